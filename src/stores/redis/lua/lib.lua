-- Helpers prepended to every duet script (see scripts.ts).
-- Message ids are ULIDs: 10 characters of time (ms) then 16 of randomness, Crockford base 32,
-- so they sort as strings in time order.
local B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

-- The Redis server's clock, not the caller's: processes with skewed clocks agree on it.
local function now_ms()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function encode_time(ms)
  local out = {}
  for i = 10, 1, -1 do
    local digit = ms % 32
    out[i] = string.sub(B32, digit + 1, digit + 1)
    ms = (ms - digit) / 32
  end
  return table.concat(out)
end

local function decode_time(id)
  local ms = 0
  for i = 1, 10 do
    ms = ms * 32 + string.find(B32, string.sub(id, i, i), 1, true) - 1
  end
  return ms
end

-- The id right after `id` (+1 in base 32, carrying into the time part if it must).
local function next_id(id)
  local chars = {}
  for i = 1, 26 do
    chars[i] = string.sub(id, i, i)
  end
  for i = 26, 1, -1 do
    local digit = string.find(B32, chars[i], 1, true)
    if digit < 32 then
      chars[i] = string.sub(B32, digit + 1, digit + 1)
      return table.concat(chars)
    end
    chars[i] = "0"
  end
  return redis.error_reply("message id space exhausted")
end

local function seq_of(stream_id)
  return tonumber(string.match(stream_id, "^%d+"))
end

-- Age retention without scanning: every AGE_CHECK_EVERY appends, drops expired entries from the
-- head of the log (at most 32), so a busy log sheds its backlog twice as fast as it grows; an idle
-- log expires as a whole (PEXPIRE below).
local AGE_CHECK_EVERY = 16
local function trim_by_age(log, now, max_age_ms)
  local oldest = redis.call("XRANGE", log, "-", "+", "COUNT", 1)[1]
  if not oldest or tonumber(oldest[2][4]) >= now - max_age_ms then
    return
  end
  local keep
  for _, entry in ipairs(redis.call("XRANGE", log, "-", "+", "COUNT", 32)) do
    keep = seq_of(entry[1])
    if tonumber(entry[2][4]) >= now - max_age_ms then
      break
    end
    keep = keep + 1
  end
  redis.call("XTRIM", log, "MINID", string.format("%d-0", keep))
end

-- Age retention of a log after an append of `seq` at `now`: the head check every
-- AGE_CHECK_EVERY appends, and the log's time to live (an idle log expires as a whole).
local function retain(log, seq, max_age_ms, now)
  if max_age_ms > 0 then
    if seq % AGE_CHECK_EVERY == 0 then
      trim_by_age(log, now, max_age_ms)
    end
    redis.call("PEXPIRE", log, max_age_ms)
  end
end

-- Appends one event to a user's log and returns its seq and its JSON. Count retention is part of the XADD.
-- `make_json(seq)` renders the event; `now` is the script's TIME. The log's floor is not stored:
-- it is the first retained entry's seq - 1 (or the head when the log is empty), see
-- events-since.lua. An entry is {"e", event JSON, "t", append time}.
local function append_event(seq_key, log, make_json, max_events, max_age_ms, now)
  local seq = redis.call("INCR", seq_key)
  local json = make_json(seq)
  redis.call("XADD", log, "MAXLEN", "=", max_events, string.format("%d-0", seq), "e", json, "t", now)
  retain(log, seq, max_age_ms, now)
  return seq, json
end

-- Appends a `message` event to a user's log as a reference to the message, which is stored once,
-- in its conversation's `msg` hash: the entry is {"m", "<id> <peer>", "t", append time}. Readers
-- (events-since.lua and queries.ts) fetch the body as it is now (edited, or the tombstone of an
-- unsent or expired message), as the SQLite store joins its events to its messages. Logs written
-- before the sixth session hold {"e", the whole event JSON, ...} entries: readers take both.
-- max_events and max_age_ms come as the script's argument strings (no number formatting per call).
local function append_message_ref(seq_key, log, id, peer, max_events, max_age_ms, now)
  local seq = redis.call("INCR", seq_key)
  redis.call("XADD", log, "MAXLEN", "=", max_events, string.format("%d-0", seq), "m", id .. " " .. peer, "t",
    string.format("%d", now))
  if max_age_ms ~= "0" then
    if seq % AGE_CHECK_EVERY == 0 then
      trim_by_age(log, now, tonumber(max_age_ms))
    end
    redis.call("PEXPIRE", log, max_age_ms)
  end
  return seq
end

-- Moves a per-user marker kept in the conversation's `meta` hash (`field`: "r:<reader>" for
-- reads, "d:<user>" for deliveries) up to the last message id in `peer_ids` (the peer's `from:`
-- set) at or before `up_to`, never back. Returns the marker after the call (false when never
-- set) and whether it moved.
local function advance_marker(meta, field, peer_ids, up_to)
  local current = redis.call("HGET", meta, field)
  local last = redis.call("ZREVRANGEBYLEX", peer_ids, "[" .. up_to, "-", "LIMIT", 0, 1)[1]
  if not last or (current and last <= current) then
    return current, false
  end
  redis.call("HSET", meta, field, last)
  return last, true
end

-- Rewrites a user's log so every event that carries one of the messages in `tombstones` (id ->
-- tombstone JSON: its `edit` events, and its `message` event in a log written before message
-- events became references) keeps its seq and carries the tombstone instead. A reference entry
-- ("m") needs nothing: its readers fetch the tombstone from the conversation. Stream entries cannot be changed in place, and XDEL only marks them deleted (the bytes
-- stay in the stream's node), so the log is rebuilt with the same ids: O(log length), once per
-- unsend or per sweep batch. A JSON string cannot hold an unescaped quote, so the needle only
-- matches the event's own `message` field, which is its last.
local MESSAGE_FIELD = '"message":{"id":"'

local function tombstone_in_log(log, tombstones)
  local entries = redis.call("XRANGE", log, "-", "+")
  local found = {}
  local hit = false
  for i = 1, #entries do
    local e = entries[i][2][2]
    local at = string.find(e, MESSAGE_FIELD, 1, true)
    if at then
      local t = tombstones[string.sub(e, at + #MESSAGE_FIELD, at + #MESSAGE_FIELD + 25)]
      if t then
        found[i] = string.sub(e, 1, at + 9) .. t .. "}"
        hit = true
      end
    end
  end
  if not hit then
    return
  end
  local ttl = redis.call("PTTL", log)
  redis.call("DEL", log)
  for i = 1, #entries do
    local fields = entries[i][2]
    redis.call("XADD", log, entries[i][1], fields[1], found[i] or fields[2], "t", fields[4])
  end
  if ttl > 0 then
    redis.call("PEXPIRE", log, ttl)
  end
end
