-- One holder at a time (the expiry sweeper across processes). KEYS: the lease.
-- ARGV: holder id, ms. Takes the lease when free, renews it when `holder` has it.
-- Returns 1 when `holder` holds it now, else 0.
local current = redis.call("GET", KEYS[1])
if current == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
if current then
  return 0
end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
