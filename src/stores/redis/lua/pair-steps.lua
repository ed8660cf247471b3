-- The steps of matching and unmatching a pair (SPEC 11). The pair's state lives in the
-- conversation's slot (`pair` hash: state m|u, since, screen, pending), so a send's own script
-- checks it; each user's list of pairs and `pair` events live in that user's slot.

-- Conversation slot: matches the pair. `screen`: "-" not given, "" none, else the setting.
-- Returns {1 if new else 0, since, screen or ""}.
local function match_pair(pair, now, screen)
  if redis.call("HGET", pair, "state") == "m" then
    if screen == "" then
      redis.call("HDEL", pair, "screen")
    elseif screen ~= "-" then
      redis.call("HSET", pair, "screen", screen)
    end
    return { 0, redis.call("HGET", pair, "since"), redis.call("HGET", pair, "screen") or "" }
  end
  redis.call("DEL", pair)
  redis.call("HSET", pair, "state", "m", "since", now)
  if screen ~= "-" and screen ~= "" then
    redis.call("HSET", pair, "screen", screen)
    return { 1, now, screen }
  end
  return { 1, now, "" }
end

-- Conversation slot: ends the pair; with `erase`, its messages, markers and clientMsgId records
-- go (UNLINK: out of the keyspace at once, the memory freed by Redis's background thread, so a
-- 100,000-message conversation does not hold the server). With `pending` (cluster: the users'
-- steps follow in other calls) the pair remembers it, so a retry after a crash completes them.
-- keys: pair, meta, msg, ids, from_a, from_b, cmid. Returns {"ok", messages erased},
-- {"resume", 0, "1"|"0" erase} (a pending unmatch to complete) or {"notfound"}.
-- force (SPEC 15's erase): ends the conversation whatever the pair's state (none in open mode,
-- or unmatched with its history kept) instead of answering notfound, never matching it first.
local function unmatch_pair(keys, erase, pending, force)
  local pair = keys[1]
  if redis.call("HGET", pair, "state") ~= "m" then
    local pending = redis.call("HGET", pair, "pending")
    if pending then
      return { "resume", 0, pending }
    end
    if not force then
      return { "notfound" }
    end
  end
  redis.call("HSET", pair, "state", "u")
  if pending then
    redis.call("HSET", pair, "pending", erase and "1" or "0")
  end
  local n = 0
  if erase then
    n = redis.call("ZCARD", keys[4])
    redis.call("UNLINK", keys[2], keys[3], keys[4], keys[5], keys[6], keys[7])
  end
  return { "ok", n }
end

-- User slot: the user's side of a match or an unmatch, idempotent (a retry appends nothing).
-- keys: seq, log, pairs, convs, last, rd. args: owner, peer, "matched"|"unmatched", since,
-- "1"/"0" erase (unmatch), max_events, max_age_ms. Returns the `pair` event's seq, or 0.
local function apply_pair(keys, args, now)
  local seq_key, log, pairs, convs, last, rd = keys[1], keys[2], keys[3], keys[4], keys[5], keys[6]
  local owner, peer, state, since, erase = args[1], args[2], args[3], args[4], args[5]
  local tail = ""
  if state == "matched" then
    if redis.call("ZSCORE", pairs, peer) == since then
      return 0
    end
    redis.call("ZADD", pairs, since, peer)
    -- Listed at once, with no last message: "new match, say hi".
    redis.call("ZADD", convs, "NX", since, peer)
  else
    -- args[8] "1" (force, the erase): a conversation listed without a pair ends too; with
    -- neither a pair nor a listed conversation there is nothing to tell (a retry appends nothing).
    local paired = redis.call("ZREM", pairs, peer) == 1
    if not paired and not (args[8] == "1" and erase == "1" and redis.call("ZSCORE", convs, peer)) then
      return 0
    end
    if erase == "1" then
      redis.call("ZREM", convs, peer)
      redis.call("HDEL", last, peer)
      redis.call("HDEL", rd, peer .. " " .. peer, peer .. " " .. owner)
      tail = ',"historyDeleted":true'
    else
      tail = ',"historyDeleted":false'
    end
  end
  local seq = append_event(seq_key, log, function(s)
    return '{"type":"pair","seq":' .. string.format("%d", s) .. ',"peer":' .. cjson.encode(peer)
      .. ',"state":"' .. state .. '"' .. tail .. "}"
  end, tonumber(args[6]), tonumber(args[7]), now)
  return seq
end
