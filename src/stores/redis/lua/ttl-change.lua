-- Redis Cluster, step 1 of a ttl change (conversation slot). KEYS: meta. ARGV: seconds.
-- Returns 1 when it changed, 0 when it was already that.
return set_ttl(KEYS[1], ARGV[1]) and 1 or 0
