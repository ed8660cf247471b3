-- Lists failed entries, oldest failure first. KEYS: e, failed. ARGV: limit.
-- Returns {id, value, ...}.
local ids = redis.call("ZRANGE", KEYS[2], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local value = redis.call("HGET", KEYS[1], id)
  if value then
    out[#out + 1] = id
    out[#out + 1] = value
  end
end
return out
