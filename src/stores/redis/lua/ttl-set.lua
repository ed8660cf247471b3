-- Standalone Redis: a conversation's ttl and both sides' `ttl` events in one script.
-- KEYS: meta, A's seq, A's log, B's seq, B's log
-- ARGV: A, B, seconds ("0": none), max_events, max_age_ms
-- Returns {A's seq, B's seq}, both 0 when the ttl was already that.
if not set_ttl(KEYS[1], ARGV[3]) then
  return { 0, 0 }
end
local now = now_ms()
local max_events, max_age_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local s1 = apply_ttl({ KEYS[2], KEYS[3] }, ARGV[2], ARGV[3], max_events, max_age_ms, now)
local s2 = apply_ttl({ KEYS[4], KEYS[5] }, ARGV[1], ARGV[3], max_events, max_age_ms, now)
return { s1, s2 }
