-- The end of a scrub (pair-scrub.lua): the entries from `start` on (the unmatch's own event and
-- whatever was appended meanwhile) are copied as they are, and the new stream replaces the log,
-- keeping its time to live. One script, so no append falls between the copy and the swap.
-- KEYS: log, the new stream. ARGV: start (the scrub's last cursor). Returns 1.
local entries = redis.call("XRANGE", KEYS[1], ARGV[1], "+")
for _, entry in ipairs(entries) do
  redis.call("XADD", KEYS[2], entry[1], unpack(entry[2]))
end
if redis.call("EXISTS", KEYS[2]) == 0 then
  redis.call("DEL", KEYS[1])
  return 1
end
local ttl = redis.call("PTTL", KEYS[1])
redis.call("RENAME", KEYS[2], KEYS[1])
if ttl > 0 then
  redis.call("PEXPIRE", KEYS[1], ttl)
else
  redis.call("PERSIST", KEYS[1])
end
return 1
