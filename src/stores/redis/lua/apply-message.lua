-- Redis Cluster, steps 2 and 3 of a send (one user's slot). KEYS and ARGV as apply_message.
local seq = apply_message(KEYS, ARGV, now_ms())
return seq
