-- Redis Cluster, step 1 of marking read (conversation slot).
-- KEYS: meta, peer_ids. ARGV: reader, up_to. Returns {marker or "", 1 if it moved else 0}.
local marker, moved = move_marker(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return { marker or "", moved and 1 or 0 }
