-- Redis Cluster, step 1 of reading unread messages (conversation slot).
-- KEYS: meta, peer_ids, msg. ARGV: reader, limit, "1" to mark.
-- Returns {bodies, marker or "", 1 if it moved else 0}.
local bodies, marker, moved = take_unread(KEYS, ARGV[1], tonumber(ARGV[2]), ARGV[3] == "1")
return { bodies, marker or "", moved and 1 or 0 }
