-- Removes outbox entries, pending or failed (the erase's scrub). KEYS: due, e, failed.
-- ARGV: ids. Returns how many entries went.
local n = 0
for _, id in ipairs(ARGV) do
  n = n + redis.call("HDEL", KEYS[2], id)
  redis.call("ZREM", KEYS[1], id)
  redis.call("ZREM", KEYS[3], id)
end
return n
