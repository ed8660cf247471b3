-- Redis Cluster, step 2 of a delivery acknowledgement (the peer's slot).
-- KEYS: seq, log. ARGV: user, marker, max_events, max_age_ms. Returns the event's seq.
return apply_delivered(KEYS, ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), now_ms())
