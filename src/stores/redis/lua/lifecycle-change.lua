-- Standalone Redis: a message change (edit, unsend, reaction) in one script, so concurrent
-- changes of one message are ordered and each side's events follow the states' order.
-- KEYS: msg, sender's from_ids, side A's seq/log/last, side B's seq/log/last
-- ARGV: id, expected body, new body, "1" to erase (unsend), A's event prefix and suffix,
--       B's event prefix and suffix, A's peer (B), B's peer (A), max_events, max_age_ms,
--       "1" to log the events as references (an edit)
-- Returns {"ok", A's seq, B's seq} or {"retry", current body or false}.
local done, current = change_body({ KEYS[1], KEYS[2] }, ARGV[1], ARGV[2], ARGV[3], ARGV[4] == "1")
if not done then
  return { "retry", current }
end
local now = now_ms()
local erase = ARGV[4] == "1"
local as_ref = ARGV[13] == "1"
local max_events, max_age_ms = tonumber(ARGV[11]), tonumber(ARGV[12])
local s1 = apply_change({ KEYS[3], KEYS[4], KEYS[5] }, ARGV[9], ARGV[1], ARGV[3], erase, ARGV[5], ARGV[6],
  max_events, max_age_ms, now, as_ref)
local s2 = apply_change({ KEYS[6], KEYS[7], KEYS[8] }, ARGV[10], ARGV[1], ARGV[3], erase, ARGV[7], ARGV[8],
  max_events, max_age_ms, now, as_ref)
return { "ok", s1, s2 }
