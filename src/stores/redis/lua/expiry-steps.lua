-- SPEC 15's steps: a conversation's ttl, and the sweeper's erasure of expired messages. The
-- conversation's keys live in its slot, each side's log and summary in its user's slot: on
-- standalone Redis ttl-set.lua and expire.lua run the steps in one script; on Redis Cluster each
-- runs in its own slot (ttl-change.lua then ttl-apply.lua per side; expire-conv.lua then
-- expire-user.lua per side).

-- Conversation step of a ttl change: meta's `ttl` field (absent for 0). Returns whether it changed.
local function set_ttl(meta, seconds)
  local current = redis.call("HGET", meta, "ttl") or "0"
  if current == seconds then
    return false
  end
  if seconds == "0" then
    redis.call("HDEL", meta, "ttl")
  else
    redis.call("HSET", meta, "ttl", seconds)
  end
  return true
end

-- One side's `ttl` event. keys: seq, log. Returns its seq.
local function apply_ttl(keys, peer, seconds, max_events, max_age_ms, now)
  return append_event(keys[1], keys[2], function(s)
    return '{"type":"ttl","seq":' .. string.format("%d", s) .. ',"peer":' .. cjson.encode(peer)
      .. ',"seconds":' .. seconds .. "}"
  end, max_events, max_age_ms, now)
end

-- Conversation step of a sweep: each of `ids` that has expired by `now` becomes its tombstone
-- (what an unsend leaves, deleted at its expiry) and leaves its sender's `from:` set (not unread);
-- every id leaves `exp`. An id already erased (unsent) or gone (an erased conversation) is only
-- dropped from `exp`. keys: msg, exp, from_lo, from_hi; `lo`: the first user of the conversation.
-- Returns {id, tombstone, ...} of the messages erased.
local function expire_messages(keys, lo, now, ids)
  local msg, exp, from_lo, from_hi = keys[1], keys[2], keys[3], keys[4]
  local out = {}
  for _, id in ipairs(ids) do
    local body = redis.call("HGET", msg, id)
    if body then
      local m = cjson.decode(body)
      if m.kind ~= "deleted" and m.expiresAt and m.expiresAt <= now then
        local tombstone = '{"id":"' .. id .. '","from":' .. cjson.encode(m.from) .. ',"to":'
          .. cjson.encode(m.to) .. ',"ts":' .. string.format("%d", m.ts)
          .. ',"kind":"deleted","deletedAt":' .. string.format("%d", m.expiresAt) .. "}"
        redis.call("HSET", msg, id, tombstone)
        redis.call("ZREM", m.from == lo and from_lo or from_hi, id)
        out[#out + 1] = id
        out[#out + 1] = tombstone
      end
    end
    redis.call("ZREM", exp, id)
  end
  return out
end

-- User step of a sweep: every event that carries an erased message in full (its `edit` events,
-- and its `message` event in a log written before those became references) carries the
-- tombstone instead, keeping its seq. As for an unsend (tombstone_in_log in lib.lua) the log is
-- rebuilt, once for all the messages of the batch, and only when such an event is there. A
-- reference, and the conversation list's last message, read the tombstone from the conversation;
-- a `last` copy written before (keys.ts) is dropped. keys: log, last. `pairs`: {id, tombstone, ...}.
local function expire_in_log(keys, peer, pairs)
  local tombstones = {}
  for i = 1, #pairs, 2 do
    tombstones[pairs[i]] = pairs[i + 1]
  end
  redis.call("HDEL", keys[2], peer)
  tombstone_in_log(keys[1], tombstones)
end
