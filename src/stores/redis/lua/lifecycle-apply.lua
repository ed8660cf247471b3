-- Redis Cluster, step 2 of a message change (one user's slot).
-- KEYS: seq, log, last. ARGV: peer, id, new body, "1" to erase, event prefix, suffix,
-- max_events, max_age_ms, "1" to log the event as a reference (an edit). Returns the event's seq.
return apply_change(KEYS, ARGV[1], ARGV[2], ARGV[3], ARGV[4] == "1", ARGV[5], ARGV[6],
  tonumber(ARGV[7]), tonumber(ARGV[8]), now_ms(), ARGV[9] == "1")
