-- The steps of marking read. The marker lives in the conversation's slot; the `read` events go
-- to both users' logs, each in its own slot.

-- Moves `reader`'s marker up to the last message from the peer at or before `up_to`, never back.
-- keys: meta, peer_ids (the peer's `from:` set)
-- Returns the marker after the call (false when nothing was ever read) and whether it moved.
local function move_marker(meta, peer_ids, reader, up_to)
  return advance_marker(meta, "r:" .. reader, peer_ids, up_to)
end

-- The oldest `limit` unread messages from the peer, as bodies; with `mark`, exactly those become
-- read. keys: meta, peer_ids, msg. Returns bodies, the marker after the call, whether it moved.
local function take_unread(keys, reader, limit, mark)
  local meta, peer_ids, msg = keys[1], keys[2], keys[3]
  local current = redis.call("HGET", meta, "r:" .. reader)
  local from = current and "(" .. current or "-"
  local ids = redis.call("ZRANGEBYLEX", peer_ids, from, "+", "LIMIT", 0, limit)
  if #ids == 0 then
    return {}, current, false
  end
  local bodies = redis.call("HMGET", msg, unpack(ids))
  if not mark then
    return bodies, current, false
  end
  local marker, moved = move_marker(meta, peer_ids, reader, ids[#ids])
  return bodies, marker, moved
end

-- Appends a `read` event to one user's log unless the log already has one for this conversation
-- and reader at least as far, so repeating it (a retry) appends nothing.
-- keys: seq, log, rd. `peer` is the other side from the log owner's point of view; `now` the
-- script's TIME. Returns the event's seq, or 0.
local function apply_read(keys, peer, reader, up_to, max_events, max_age_ms, now)
  local seq_key, log, rd = keys[1], keys[2], keys[3]
  local field = peer .. " " .. reader
  local done = redis.call("HGET", rd, field)
  if done and done >= up_to then
    return 0
  end
  redis.call("HSET", rd, field, up_to)
  local seq = append_event(seq_key, log, function(s)
    return '{"type":"read","seq":' .. string.format("%d", s) .. ',"peer":' .. cjson.encode(peer)
      .. ',"reader":' .. cjson.encode(reader) .. ',"upTo":"' .. up_to .. '"}'
  end, max_events, max_age_ms, now)
  return seq
end
