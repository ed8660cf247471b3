-- Standalone Redis: a whole send in one script, so one round trip and atomic.
-- KEYS: 1-6 conversation (store_message), 7-9 sender, 10-12 recipient (seq, log, convs:
--       apply_message), 13 the conversation's pair (store_message's 7th key), 14 and 15 the
--       outbox's due and e (outbox-steps.lua), 16 the sender's cmid (a clientMsgId is the
--       sender's across conversations, SPEC 3), 17 the conversation's exp, 18 the global expiry
--       index (SPEC 15: "<id> <from> <to>" by expiresAt, for the sweeper)
-- ARGV: 1-7 as store_message, 8 max_events, 9 max_age_ms; then, to publish both `message`
--       events to the other duet processes as they commit (as RedisBroker.publish would):
--       10 the publishing node's id ("" to publish nothing), 11 and 12 the sender's and the
--       recipient's channels; 13 "1" to enqueue the message.created webhook, 14 the notification
--       delay in ms ("" for no notification entry), 15 the default ttl (s, "0": none)
-- The body is stored once (the conversation's `msg`); each log gets a reference to it. The
-- messages-stored statistic is counted by the caller (message-count.ts), not here.
-- Returns {"new", id, ts, sender seq, recipient seq, expiresAt or ""}, {"dup", body}, {"blocked"}, {"not_matched"}
-- or {"dup_to", peer, id}: the sender used this clientMsgId for a message to another peer (the
-- caller reads that message: its conversation's keys are not this script's).
-- The sender's cmid is keyed by the clientMsgId's SHA-1: an erased conversation leaves no text there.
local cmid_field = ARGV[3] ~= "" and redis.sha1hex(ARGV[3]) or ""
if ARGV[3] ~= "" then
  local prior = redis.call("HGET", KEYS[16], cmid_field)
  if prior then
    local space = string.find(prior, " ", 1, true)
    local peer = space and string.sub(prior, 1, space - 1) or prior
    if peer ~= ARGV[2] then
      return { "dup_to", peer, space and string.sub(prior, space + 1) or "" }
    end
  end
end
local r = store_message({ KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[13], KEYS[17] }, ARGV,
  ARGV[15])
if r[1] ~= "new" then
  return r
end
local id, ts, body, now, expires = r[2], r[3], r[4], r[5], r[6]
if expires ~= "" then
  redis.call("ZADD", KEYS[18], expires, id .. " " .. ARGV[1] .. " " .. ARGV[2])
end
local s1 = apply_message({ KEYS[7], KEYS[8], KEYS[9] }, { ARGV[2], id, ts, ARGV[8], ARGV[9], "0" }, now)
local s2 = apply_message({ KEYS[10], KEYS[11], KEYS[12] }, { ARGV[1], id, ts, ARGV[8], ARGV[9], "0" }, now)
if ARGV[3] ~= "" then
  redis.call("HSET", KEYS[16], cmid_field, ARGV[2] .. " " .. id)
end
if ARGV[13] == "1" then
  outbox_add(KEYS[14], KEYS[15], "msg_" .. id, "message.created", '{"message":' .. body .. "}", string.format("%d", now), string.format("%d", now))
end
if ARGV[14] ~= "" then
  -- User ids are [A-Za-z0-9_.@-]: nothing to escape.
  outbox_add(KEYS[14], KEYS[15], "ntf_" .. id, "notify",
    '{"user":"' .. ARGV[2] .. '","peer":"' .. ARGV[1] .. '","id":"' .. id .. '","ts":' .. ts .. "}",
    string.format("%d", now), string.format("%d", now + tonumber(ARGV[14])))
end
local node = ARGV[10]
if node and node ~= "" then
  -- `<node>|e|<seq>|<event JSON>`, as RedisBroker.publish writes it.
  local tail = ',"message":' .. body .. "}"
  redis.call("SPUBLISH", ARGV[11], node .. '|e|' .. string.format("%d", s1) .. '|{"type":"message","seq":' .. string.format("%d", s1) .. tail)
  redis.call("SPUBLISH", ARGV[12], node .. '|e|' .. string.format("%d", s2) .. '|{"type":"message","seq":' .. string.format("%d", s2) .. tail)
end
return { "new", id, ts, s1, s2, expires }
