-- Redis Cluster, step 1 of an unmatch (conversation slot); marks it pending until the users'
-- steps are done. KEYS as unmatch_pair. ARGV: "1" to erase, "1" to force (any state).
return unmatch_pair(KEYS, ARGV[1] == "1", true, ARGV[2] == "1")
