-- Claims due entries with a lease. KEYS: due, e. ARGV: now, limit, lease_ms.
-- Returns {id, value, id, value, ...}, oldest due first.
local now = tonumber(ARGV[1])
local ids = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", now, "LIMIT", 0, tonumber(ARGV[2]))
local out = {}
local until_ms = now + tonumber(ARGV[3])
for _, id in ipairs(ids) do
  local value = redis.call("HGET", KEYS[2], id)
  if value then
    redis.call("ZADD", KEYS[1], until_ms, id)
    out[#out + 1] = id
    out[#out + 1] = value
  else
    redis.call("ZREM", KEYS[1], id)
  end
end
return out
