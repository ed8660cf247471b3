-- Redis Cluster, a `read` event in one user's log (that user's slot).
-- KEYS: seq, log, rd. ARGV: peer, reader, up_to, max_events, max_age_ms. Returns seq or 0.
return apply_read(KEYS, ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), now_ms())
