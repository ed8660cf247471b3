-- The steps of SPEC 13's message changes (edit, unsend, reaction) and delivery receipts. The
-- message lives in the conversation's slot; each side's summary and event log in its user's slot.
-- On standalone Redis lifecycle-change.lua runs the steps in one script; on Redis Cluster each
-- runs in its own slot (lifecycle-cas.lua, then lifecycle-apply.lua once per side).

-- Step 1 (conversation slot): compare-and-set of the message body, which the caller computed
-- from the body it read (the rules live in one place, core/lifecycle-rules.ts). An unsent message
-- leaves its sender's `from:` set, so unread counts and pages skip it; `ids` keeps it for history.
-- keys: msg, from_ids (the sender's). Returns true, or the current body (false if gone) on a conflict.
local function change_body(keys, id, expected, body, erase)
  local current = redis.call("HGET", keys[1], id)
  if current ~= expected then
    return false, current
  end
  redis.call("HSET", keys[1], id, body)
  if erase then
    redis.call("ZREM", keys[2], id)
  end
  return true, current
end

-- Step 2 (one user's slot): an unsend erases the content from the log (the `message` and `edit`
-- events of logs written before those became references: a reference reads the tombstone from
-- the conversation), then the change's event is appended: an `edit` as a reference like a
-- `message` ({"x", "<id> <peer>", "t", time}: its readers fetch the body as it is now, as on
-- SQLite), the others as their JSON. The conversation list reads its last message from the
-- conversation; a `last` copy written before (keys.ts) is dropped here, so an unsent message
-- leaves no copy there either.
-- keys: seq, log, last. `prefix .. seq .. suffix` is the event's JSON. Returns the event's seq.
local function apply_change(keys, peer, id, body, erase, prefix, suffix, max_events, max_age_ms, now, as_ref)
  local seq_key, log = keys[1], keys[2]
  redis.call("HDEL", keys[3], peer)
  if erase then
    tombstone_in_log(log, { [id] = body })
  end
  if as_ref then
    local seq = redis.call("INCR", seq_key)
    redis.call("XADD", log, "MAXLEN", "=", max_events, string.format("%d-0", seq), "x", id .. " " .. peer, "t",
      string.format("%d", now))
    retain(log, seq, max_age_ms, now)
    return seq
  end
  local seq = append_event(seq_key, log, function(s)
    return prefix .. string.format("%d", s) .. suffix
  end, max_events, max_age_ms, now)
  return seq
end

-- Delivery marker (conversation slot): `user`'s marker for messages from the peer moves up to
-- the last one at or before `up_to`, never back. keys: meta, peer_ids. Returns the marker (false
-- when none) and whether it moved.
local function move_delivered(meta, peer_ids, user, up_to)
  return advance_marker(meta, "d:" .. user, peer_ids, up_to)
end

-- The peer's `delivered` event (the peer's slot). keys: seq, log. Returns its seq.
local function apply_delivered(keys, user, up_to, max_events, max_age_ms, now)
  return append_event(keys[1], keys[2], function(s)
    return '{"type":"delivered","seq":' .. string.format("%d", s) .. ',"peer":' .. cjson.encode(user)
      .. ',"upTo":"' .. up_to .. '"}'
  end, max_events, max_age_ms, now)
end
