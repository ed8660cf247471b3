-- Redis Cluster, step 1 of a match (conversation slot). KEYS: pair. ARGV: screen.
-- Returns {1 if new else 0, since, screen or ""}.
return match_pair(KEYS[1], now_ms(), ARGV[1])
