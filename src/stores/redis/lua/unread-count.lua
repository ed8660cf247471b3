-- How many messages from the peer the reader has not read (conversation slot), the
-- conversation's own ttl (SPEC 15; 0: none) and its last message, read here so a conversation
-- list costs one call per conversation. The last message is the newest id in `ids` as it is now
-- (edited, or its tombstone), not a copy kept in each user's slot: a send stores its body once.
-- KEYS: meta, peer_ids, exp, ids, msg. ARGV: reader. Returns {count, ttl, last body or false}.
-- Expired messages the sweeper has not erased yet are not unread (SPEC 15): they are the ids in
-- `exp` due by now (erased ones have left peer_ids already), few as the sweeper keeps up.
local current = redis.call("HGET", KEYS[1], "r:" .. ARGV[1])
local ttl = tonumber(redis.call("HGET", KEYS[1], "ttl") or "0") or 0
local count = redis.call("ZLEXCOUNT", KEYS[2], current and "(" .. current or "-", "+")
if count > 0 then
  local t = redis.call("TIME")
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for _, id in ipairs(redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now)) do
    if (not current or id > current) and redis.call("ZSCORE", KEYS[2], id) then
      count = count - 1
    end
  end
end
local last = redis.call("ZREVRANGEBYLEX", KEYS[4], "+", "-", "LIMIT", 0, 1)[1]
return { count, ttl, last and redis.call("HGET", KEYS[5], last) or false }
