-- Redis Cluster, one user's side of a match or unmatch (the user's slot). KEYS, ARGV as apply_pair.
return apply_pair(KEYS, ARGV, now_ms())
