-- Redis Cluster, step 1 of a sweep (conversation slot). KEYS: msg, exp, from_lo, from_hi.
-- ARGV: lo, now (ms), then the ids. Returns {id, tombstone, ...} of the messages erased.
local ids = {}
for i = 3, #ARGV do
  ids[#ids + 1] = ARGV[i]
end
return expire_messages(KEYS, ARGV[1], tonumber(ARGV[2]), ids)
