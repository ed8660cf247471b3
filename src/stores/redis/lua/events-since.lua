-- Stored events after a cursor (the user's slot).
-- KEYS: seq, log. ARGV: since, limit.
-- Returns {head, 1 if the cursor needs a reset else 0, item...}: an item is an event's JSON, or
-- "<seq> <id> <peer>" for a `message` event kept as a reference (lib.lua, append_message_ref),
-- "<seq> <id> <peer> edit" for an `edit` event (lifecycle-steps.lua),
-- whose body the caller reads from the conversation (queries.ts: the conversations are other
-- slots on a cluster). The floor (newest trimmed seq) is the first retained entry's seq - 1, or
-- the head when everything was trimmed or expired.
local head = tonumber(redis.call("GET", KEYS[1]) or "0")
local since, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local first = redis.call("XRANGE", KEYS[2], "-", "+", "COUNT", 1)[1]
local floor = head
if first then
  floor = seq_of(first[1]) - 1
end
if since > head or since < floor then
  return { head, 1 }
end
local out = { head, 0 }
if since == head or limit < 1 then
  return out
end
for _, entry in ipairs(redis.call("XRANGE", KEYS[2], string.format("%d-0", since + 1), "+", "COUNT", limit)) do
  local fields = entry[2]
  if fields[1] == "m" then
    out[#out + 1] = string.match(entry[1], "^%d+") .. " " .. fields[2]
  elseif fields[1] == "x" then
    out[#out + 1] = string.match(entry[1], "^%d+") .. " " .. fields[2] .. " edit"
  else
    out[#out + 1] = fields[2]
  end
end
return out
