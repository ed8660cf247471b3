-- Standalone Redis: a delivery acknowledgement and, when the marker moved and `notify`, the
-- peer's `delivered` event, in one script.
-- KEYS: meta, peer's from_ids, peer's seq, log. ARGV: user, up_to, "1" to notify, max_events, max_age_ms.
-- Returns {marker or "", the event's seq or 0}.
local marker, moved = move_delivered(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if not moved or ARGV[3] ~= "1" then
  return { marker or "", 0 }
end
local seq = apply_delivered({ KEYS[3], KEYS[4] }, ARGV[1], marker, tonumber(ARGV[4]), tonumber(ARGV[5]), now_ms())
return { marker, seq }
