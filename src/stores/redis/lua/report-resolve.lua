-- Resolves an open report once. KEYS: reports hash, open zset, resolved zset.
-- ARGV: id, the resolved report's JSON. Returns 1 when this call resolved it, 0 when it was not open.
if redis.call("ZREM", KEYS[2], ARGV[1]) == 1 then
  redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
  redis.call("ZADD", KEYS[3], 0, ARGV[1])
  return 1
end
return 0
