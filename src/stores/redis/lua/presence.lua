-- One process's view of a user's presence (the user's slot).
-- KEYS: pr. ARGV: the process's field ("n:<node>"), its count of the user's open connections
-- ("" to leave it), a time (ms) the user was seen ("" for none), "1" if that was a poll.
if ARGV[2] ~= "" then
  if tonumber(ARGV[2]) > 0 then
    redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
  else
    redis.call("HDEL", KEYS[1], ARGV[1])
  end
end
-- Never backwards: another process may have seen the user later.
local function advance(field, value)
  local current = tonumber(redis.call("HGET", KEYS[1], field) or "0")
  if tonumber(value) > current then
    redis.call("HSET", KEYS[1], field, value)
  end
end
if ARGV[3] ~= "" then
  advance("seen", ARGV[3])
  if ARGV[4] == "1" then
    advance("polled", ARGV[3])
  end
end
return 1
