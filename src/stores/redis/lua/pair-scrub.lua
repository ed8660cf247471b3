-- Erasing a conversation's events from one user's log (the user's slot), a chunk at a time.
-- XDEL would only flag stream entries as deleted: their bytes stay in the stream's nodes (DUMP
-- shows them) until a whole node goes. So the log is rebuilt instead: every entry except the
-- conversation's is copied, with its id, into a new stream, which then replaces the log
-- (pair-scrub-finish.lua). The conversation's events are those that name the peer (message
-- references by their peer, full message events by their message's from/to, the others by
-- `peer`), except `pair` events (no content).
-- KEYS: log, the new stream (a key of this scrub only, same slot).
-- ARGV: peer, start (a stream range start: "-" or "(<id>"), end (exclusive: the unmatch's own
-- event; later entries are copied as they are by the finish), count.
-- Returns {1 when the range is done else 0, the cursor after the entries read, events dropped}.
local peer, count = ARGV[1], tonumber(ARGV[4])
-- The first chunk: a copy left by a scrub of the same conversation that a crash cut short goes.
if ARGV[2] == "-" then
  redis.call("DEL", KEYS[2])
end
local entries = redis.call("XRANGE", KEYS[1], ARGV[2], ARGV[3], "COUNT", count)
local dropped = 0
for _, entry in ipairs(entries) do
  local drop = false
  if entry[2][1] == "m" or entry[2][1] == "x" then
    -- "<id> <peer>": a `message` or `edit` reference (lib.lua, lifecycle-steps.lua)
    drop = string.sub(entry[2][2], string.find(entry[2][2], " ", 1, true) + 1) == peer
  else
    local ok, event = pcall(cjson.decode, entry[2][2])
    if ok and type(event) == "table" and event.type ~= "pair" then
      local m = event.message
      drop = event.peer == peer or (type(m) == "table" and (m.from == peer or m.to == peer))
    end
  end
  if drop then
    dropped = dropped + 1
  else
    redis.call("XADD", KEYS[2], entry[1], unpack(entry[2]))
  end
end
-- A scrub cut short by a crash leaves no lasting copy.
if redis.call("EXISTS", KEYS[2]) == 1 then
  redis.call("PEXPIRE", KEYS[2], 3600000)
end
local cursor = ARGV[2]
if #entries > 0 then
  cursor = "(" .. entries[#entries][1]
end
return { #entries < count and 1 or 0, cursor, dropped }
