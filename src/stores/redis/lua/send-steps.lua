-- The steps of a send. On standalone Redis send.lua runs them all in one script; on Redis
-- Cluster each runs in its own slot (store-message.lua, then apply-message.lua once per side).

-- Step 1, in the conversation's slot: honours clientMsgId, checks the block, assigns an id greater
-- than the conversation's last one (whatever the clocks say) and stores the message.
-- keys: meta, msg, ids, from_ids (the sender's), cmid, blk, pair, exp
-- args: from, to, clientMsgId or "", what to check ("0" nothing: a system message; "1" blocks
--       and an unmatched pair: open mode; "2" blocks and a matched pair: matched mode),
--       16 random id characters, the body between id and ts, the body after ts (see bodyParts
--       in redis-store.ts)
-- default_ttl: the server-wide message ttl in seconds ("0": none), for a conversation whose meta
-- holds no `ttl` of its own (SPEC 15). A message that expires gets `"expiresAt":<ms>` as its
-- body's last field and its id in `exp` (score: that time), which unread counts read.
-- Returns {"new", id, ts, body, now, expiresAt or ""}, {"dup", body}, {"blocked"} or {"not_matched"}.
local function store_message(keys, args, default_ttl)
  local meta, msg, ids, from_ids, cmid, blk = keys[1], keys[2], keys[3], keys[4], keys[5], keys[6]
  local from, to, client_id = args[1], args[2], args[3]
  local cmid_field = from .. " " .. client_id
  if client_id ~= "" then
    local existing = redis.call("HGET", cmid, cmid_field)
    if existing then
      return { "dup", redis.call("HGET", msg, existing) }
    end
  end
  if args[4] ~= "0" then
    if redis.call("SISMEMBER", blk, to) == 1 then
      return { "blocked" }
    end
    local state = redis.call("HGET", keys[7], "state")
    if state == "u" or (args[4] == "2" and state ~= "m") then
      return { "not_matched" }
    end
  end
  local now = now_ms()
  local id = encode_time(now) .. args[5]
  -- Arguments to redis.call are strings: a Lua number is formatted with "%.17g" on every call.
  local last = redis.call("ZREVRANGEBYLEX", ids, "+", "-", "LIMIT", "0", "1")[1]
  local ms = now
  if last and id <= last then
    id = next_id(last)
    ms = decode_time(id)
  end
  local ts = string.format("%d", ms)
  local body
  local expires = ""
  local ttl = tonumber(redis.call("HGET", meta, "ttl") or default_ttl) or 0
  if ttl > 0 then
    expires = string.format("%d", ms + ttl * 1000)
    body = '{"id":"' .. id .. '",' .. args[6] .. '"ts":' .. ts .. "," .. string.sub(args[7], 1, -2)
      .. ',"expiresAt":' .. expires .. "}"
    redis.call("ZADD", keys[8], expires, id)
  else
    body = '{"id":"' .. id .. '",' .. args[6] .. '"ts":' .. ts .. "," .. args[7]
  end
  redis.call("HSET", msg, id, body)
  redis.call("ZADD", ids, "0", id)
  redis.call("ZADD", from_ids, "0", id)
  if client_id ~= "" then
    redis.call("HSET", cmid, cmid_field, id)
  end
  return { "new", id, ts, body, now, expires }
end

-- How many applied message ids a user's `ap` set remembers for retries (cluster only); it also
-- expires with the log. A retry older than both appends the event again (a new seq).
local APPLIED_WINDOW = 1024

-- Steps 2 and 3, in one user's slot: the `message` event (a reference to the message: the body
-- is stored once, in the conversation's `msg`; see append_message_ref in lib.lua) and the
-- conversation's place in the user's list (the summary's last message is read from the
-- conversation when listed, see unread-count.lua).
-- With `check` (cluster), a message already applied here is skipped, so a retry completes an
-- interrupted send without a second event; and as the steps of different sends may land out of
-- order, the list's time only ever moves forward. (On standalone Redis a send is one script: in order.)
-- keys: seq, log, convs, ap
-- args: peer, id, ts, max_events, max_age_ms (strings), "1" to check; now: the script's TIME
-- Returns the event's seq, or 0 when it was already applied.
local function apply_message(keys, args, now)
  local seq_key, log, convs, ap = keys[1], keys[2], keys[3], keys[4]
  local peer, id, ts = args[1], args[2], args[3]
  local max_age_ms = args[5]
  local check = args[6] == "1"
  if check and redis.call("ZSCORE", ap, id) then
    return 0
  end
  local seq = append_message_ref(seq_key, log, id, peer, args[4], max_age_ms, now)
  if not check then
    redis.call("ZADD", convs, ts, peer)
    return seq
  end
  redis.call("ZADD", ap, seq, id)
  redis.call("ZREMRANGEBYRANK", ap, 0, -APPLIED_WINDOW - 1)
  if max_age_ms ~= "0" then
    redis.call("PEXPIRE", ap, max_age_ms)
  end
  redis.call("ZADD", convs, "GT", ts, peer)
  return seq
end
