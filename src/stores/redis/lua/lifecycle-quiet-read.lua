-- Standalone Redis: marks read with the reader's own `read` event only (read receipts off).
-- KEYS: meta, peer_ids, reader's seq/log/rd. ARGV: reader, peer, up_to, max_events, max_age_ms.
-- Returns {marker or "", the reader's event seq or 0}.
local reader, peer = ARGV[1], ARGV[2]
local marker, moved = move_marker(KEYS[1], KEYS[2], reader, ARGV[3])
if not moved then
  return { marker or "", 0 }
end
local s1 = apply_read({ KEYS[3], KEYS[4], KEYS[5] }, peer, reader, marker, tonumber(ARGV[4]), tonumber(ARGV[5]), now_ms())
return { marker, s1 }
