-- Standalone Redis: the oldest unread messages, optionally marked read with both `read` events,
-- in one script.
-- KEYS: meta, peer_ids, msg, reader's seq/log/rd, peer's seq/log/rd
-- ARGV: reader, peer, limit, "1" to mark, max_events, max_age_ms
-- Returns {bodies, marker or "", reader's event seq or 0, peer's event seq or 0}.
local reader, peer = ARGV[1], ARGV[2]
local bodies, marker, moved = take_unread({ KEYS[1], KEYS[2], KEYS[3] }, reader, tonumber(ARGV[3]), ARGV[4] == "1")
if not moved then
  return { bodies, marker or "", 0, 0 }
end
local now = now_ms()
local max_events, max_age_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
local s1 = apply_read({ KEYS[4], KEYS[5], KEYS[6] }, peer, reader, marker, max_events, max_age_ms, now)
local s2 = apply_read({ KEYS[7], KEYS[8], KEYS[9] }, reader, reader, marker, max_events, max_age_ms, now)
return { bodies, marker, s1, s2 }
