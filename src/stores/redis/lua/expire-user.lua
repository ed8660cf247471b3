-- Redis Cluster, step 2 of a sweep (one user's slot). KEYS: log, last.
-- ARGV: peer, then {id, tombstone, ...} as expire-conv.lua answered. Returns 1.
local pairs_ = {}
for i = 2, #ARGV do
  pairs_[#pairs_ + 1] = ARGV[i]
end
expire_in_log(KEYS, ARGV[1], pairs_)
return 1
