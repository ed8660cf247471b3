-- Makes failed entries due again with their attempts reset. KEYS: due, e, failed.
-- ARGV: now, then either "*" (the oldest 500 failed: the caller repeats until 0) or the ids.
local now = ARGV[1]
local ids
if ARGV[2] == "*" then
  ids = redis.call("ZRANGE", KEYS[3], 0, 499)
else
  ids = {}
  for i = 2, #ARGV do
    ids[#ids + 1] = ARGV[i]
  end
end
local n = 0
for _, id in ipairs(ids) do
  if redis.call("ZREM", KEYS[3], id) == 1 then
    local value = redis.call("HGET", KEYS[2], id)
    if value then
      local created, _, type, last_error, data = outbox_parse(value)
      redis.call("HSET", KEYS[2], id, outbox_value(created, 0, type, last_error, data))
      redis.call("ZADD", KEYS[1], now, id)
      n = n + 1
    end
  end
end
return n
