-- Adds or updates a Web Push subscription, at most ARGV[3] per user. KEYS: the user's push hash.
-- ARGV: endpoint, subscription JSON, limit. Returns "added", "updated" or "full".
if redis.call("HEXISTS", KEYS[1], ARGV[1]) == 1 then
  redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
  return "updated"
end
if redis.call("HLEN", KEYS[1]) >= tonumber(ARGV[3]) then
  return "full"
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
return "added"
