-- Redis Cluster, step 1 of a send (conversation slot). KEYS and ARGV 1-7 as store_message,
-- ARGV 8 the default ttl (s, "0": none).
-- Returns {"new", id, ts, expiresAt or ""}, {"dup", body}, {"blocked"} or {"not_matched"}.
local r = store_message(KEYS, ARGV, ARGV[8])
if r[1] == "new" then
  return { "new", r[2], r[3], r[6] }
end
return r
