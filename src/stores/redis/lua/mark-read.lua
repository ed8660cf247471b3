-- Standalone Redis: marks read and appends both `read` events in one script.
-- KEYS: meta, peer_ids, reader's seq/log/rd, peer's seq/log/rd
-- ARGV: reader, peer, up_to, max_events, max_age_ms
-- Returns {marker or "", reader's event seq or 0, peer's event seq or 0}.
local reader, peer = ARGV[1], ARGV[2]
local marker, moved = move_marker(KEYS[1], KEYS[2], reader, ARGV[3])
if not moved then
  return { marker or "", 0, 0 }
end
local now = now_ms()
local max_events, max_age_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local s1 = apply_read({ KEYS[3], KEYS[4], KEYS[5] }, peer, reader, marker, max_events, max_age_ms, now)
local s2 = apply_read({ KEYS[6], KEYS[7], KEYS[8] }, reader, reader, marker, max_events, max_age_ms, now)
return { marker, s1, s2 }
