-- KEYS: due, failed. Returns {pending, failed, earliest due or ""}.
local first = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")
return { redis.call("ZCARD", KEYS[1]), redis.call("ZCARD", KEYS[2]), first[2] or "" }
