-- Redis Cluster, steps 2 and 3 of a send (one user's slot). KEYS and ARGV as apply_message.
return apply_message(KEYS, ARGV, now_ms())
