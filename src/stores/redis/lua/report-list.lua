-- Reports of one status, newest first. KEYS: reports hash, status zset. ARGV: before id or "", limit.
local hi = ARGV[1] ~= "" and "(" .. ARGV[1] or "+"
local ids = redis.call("ZREVRANGEBYLEX", KEYS[2], hi, "-", "LIMIT", 0, tonumber(ARGV[2]))
if #ids == 0 then
  return {}
end
return redis.call("HMGET", KEYS[1], unpack(ids))
