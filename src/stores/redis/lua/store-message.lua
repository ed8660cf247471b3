-- Redis Cluster, step 1 of a send (conversation slot). KEYS and ARGV as store_message.
-- Returns {"new", id, ts}, {"dup", body}, {"blocked"} or {"not_matched"}.
local r = store_message(KEYS, ARGV)
if r[1] == "new" then
  return { "new", r[2], r[3] }
end
return r
