-- Finishes attempts on pending entries, many in one call (each a no-op when no longer pending).
-- KEYS: due, e, failed. ARGV: now, then per entry: id, action ("ack" | "reschedule" | "fail"),
-- due_at, last_error. Returns how many were settled.
local now = ARGV[1]
local settled = 0
for i = 2, #ARGV, 4 do
  local id, action = ARGV[i], ARGV[i + 1]
  if redis.call("ZSCORE", KEYS[1], id) then
    if action == "ack" then
      redis.call("ZREM", KEYS[1], id)
      redis.call("HDEL", KEYS[2], id)
      settled = settled + 1
    else
      local value = redis.call("HGET", KEYS[2], id)
      if not value then
        redis.call("ZREM", KEYS[1], id)
      else
        local created, attempts, type, _, data = outbox_parse(value)
        redis.call("HSET", KEYS[2], id, outbox_value(created, attempts + 1, type, ARGV[i + 3], data))
        if action == "reschedule" then
          redis.call("ZADD", KEYS[1], ARGV[i + 2], id)
        else
          redis.call("ZREM", KEYS[1], id)
          redis.call("ZADD", KEYS[3], now, id)
        end
        settled = settled + 1
      end
    end
  end
end
return settled
