-- Finishes an attempt on a pending entry (a no-op when it is no longer pending).
-- KEYS: due, e, failed. ARGV: id, action ("ack" | "reschedule" | "fail"), now, due_at, last_error.
local id = ARGV[1]
if not redis.call("ZSCORE", KEYS[1], id) then
  return 0
end
if ARGV[2] == "ack" then
  redis.call("ZREM", KEYS[1], id)
  redis.call("HDEL", KEYS[2], id)
  return 1
end
local value = redis.call("HGET", KEYS[2], id)
if not value then
  redis.call("ZREM", KEYS[1], id)
  return 0
end
local created, attempts, type, _, data = outbox_parse(value)
redis.call("HSET", KEYS[2], id, outbox_value(created, attempts + 1, type, ARGV[5], data))
if ARGV[2] == "reschedule" then
  redis.call("ZADD", KEYS[1], ARGV[4], id)
else
  redis.call("ZREM", KEYS[1], id)
  redis.call("ZADD", KEYS[3], ARGV[3], id)
end
return 1
