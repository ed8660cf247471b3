-- How many messages from the peer the reader has not read (conversation slot), and the
-- conversation's own ttl (SPEC 15; 0: none), read here so a conversation list costs no extra call.
-- KEYS: meta, peer_ids, exp. ARGV: reader. Returns {count, ttl}.
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
return { count, ttl }
