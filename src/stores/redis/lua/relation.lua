-- What a pair's state says about two users (conversation slot). KEYS: pair, blk. ARGV: a, b.
-- Returns {state or "", 1 if a blocked b, 1 if b blocked a}.
return { redis.call("HGET", KEYS[1], "state") or "", redis.call("SISMEMBER", KEYS[2], ARGV[1]),
  redis.call("SISMEMBER", KEYS[2], ARGV[2]) }
