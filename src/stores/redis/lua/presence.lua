-- One process's view of a user's presence (the user's slot).
-- KEYS: pr. ARGV: the process's field ("n:<node>"), its count of the user's open connections
-- ("" to leave it), last seen in ms ("" to leave it).
if ARGV[2] ~= "" then
  if tonumber(ARGV[2]) > 0 then
    redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
  else
    redis.call("HDEL", KEYS[1], ARGV[1])
  end
end
if ARGV[3] ~= "" then
  -- Never backwards: another process may have seen the user later.
  local seen = tonumber(redis.call("HGET", KEYS[1], "seen") or "0")
  if tonumber(ARGV[3]) > seen then
    redis.call("HSET", KEYS[1], "seen", ARGV[3])
  end
end
return 1
