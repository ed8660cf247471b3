-- Redis Cluster, step 2 of a ttl change (one user's slot). KEYS: seq, log.
-- ARGV: peer, seconds, max_events, max_age_ms. Returns the event's seq.
return apply_ttl(KEYS, ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), now_ms())
