-- Standalone Redis: a whole match in one script.
-- KEYS: pair; a's seq, log, pairs, convs, last, rd; b's the same.
-- ARGV: a, b, screen ("-" not given, "" none), max_events, max_age_ms.
-- Returns {1 if new else 0, since, screen or "", a's event seq or 0, b's event seq or 0}.
local now = now_ms()
local r = match_pair(KEYS[1], now, ARGV[3])
if r[1] == 0 then
  return { 0, r[2], r[3], 0, 0 }
end
local since = string.format("%d", now)
local s1 = apply_pair({ KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7] },
  { ARGV[1], ARGV[2], "matched", since, "0", ARGV[4], ARGV[5] }, now)
local s2 = apply_pair({ KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13] },
  { ARGV[2], ARGV[1], "matched", since, "0", ARGV[4], ARGV[5] }, now)
return { 1, since, r[3], s1, s2 }
