-- A user's conversations (their slot), latest activity first, updatedAt < `before`.
-- KEYS: convs, last. ARGV: before (exclusive, "+inf" for none), limit.
-- Returns {peer, updatedAt, last body, ...}.
local before = ARGV[1] == "+inf" and "+inf" or "(" .. ARGV[1]
local rows = redis.call("ZREVRANGEBYSCORE", KEYS[1], before, "-inf", "WITHSCORES", "LIMIT", 0, tonumber(ARGV[2]))
local out = {}
for i = 1, #rows, 2 do
  out[#out + 1] = rows[i]
  out[#out + 1] = rows[i + 1]
  out[#out + 1] = redis.call("HGET", KEYS[2], rows[i])
end
return out
