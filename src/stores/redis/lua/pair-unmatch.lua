-- Standalone Redis: the atomic part of an unmatch in one script (the pair, the conversation's
-- keys, both users' sides and events); the event logs are scrubbed after, in chunks (pair-scrub).
-- KEYS: pair, meta, msg, ids, from_a, from_b, cmid; a's seq, log, pairs, convs, last, rd; b's.
-- ARGV: a, b, "1" to erase, max_events, max_age_ms, "1" to force (any state: SPEC 15's erase).
-- Returns {"ok", erased, a's event seq, b's event seq} or {"notfound"}.
local erase = ARGV[3] == "1"
local r = unmatch_pair({ KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7] }, erase, false,
  ARGV[6] == "1")
if r[1] ~= "ok" then
  return r
end
local now = now_ms()
local s1 = apply_pair({ KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13] },
  { ARGV[1], ARGV[2], "unmatched", "", ARGV[3], ARGV[4], ARGV[5], ARGV[6] }, now)
local s2 = apply_pair({ KEYS[14], KEYS[15], KEYS[16], KEYS[17], KEYS[18], KEYS[19] },
  { ARGV[2], ARGV[1], "unmatched", "", ARGV[3], ARGV[4], ARGV[5], ARGV[6] }, now)
return { "ok", r[2], s1, s2 }
