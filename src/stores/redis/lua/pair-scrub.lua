-- Erases a conversation's events from one user's log, a chunk at a time (the user's slot):
-- every event that names the peer (message events by their message's from/to, the others by
-- `peer`), except `pair` events, which carry no content.
-- KEYS: log. ARGV: peer, start (a stream range start: "-" or "(<id>"), end (exclusive: the
-- unmatch's own event, so a new match's events stay), count.
-- Returns {next start or "" when done, events deleted}.
local peer, count = ARGV[1], tonumber(ARGV[4])
local entries = redis.call("XRANGE", KEYS[1], ARGV[2], ARGV[3], "COUNT", count)
local dead = {}
for _, entry in ipairs(entries) do
  local ok, event = pcall(cjson.decode, entry[2][2])
  if ok and type(event) == "table" and event.type ~= "pair" then
    local m = event.message
    if event.peer == peer or (type(m) == "table" and (m.from == peer or m.to == peer)) then
      dead[#dead + 1] = entry[1]
    end
  end
end
if #dead > 0 then
  redis.call("XDEL", KEYS[1], unpack(dead))
end
if #entries < count then
  return { "", #dead }
end
return { "(" .. entries[#entries][1], #dead }
