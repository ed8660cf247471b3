-- Gives up the lease if `holder` has it. KEYS: the lease. ARGV: holder id.
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
