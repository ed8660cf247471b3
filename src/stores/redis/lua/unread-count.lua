-- How many messages from the peer the reader has not read (conversation slot).
-- KEYS: meta, peer_ids. ARGV: reader.
local current = redis.call("HGET", KEYS[1], "r:" .. ARGV[1])
return redis.call("ZLEXCOUNT", KEYS[2], current and "(" .. current or "-", "+")
