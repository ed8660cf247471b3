-- Redis Cluster, step 1 of a delivery acknowledgement (conversation slot).
-- KEYS: meta, peer's from_ids. ARGV: user, up_to. Returns {marker or "", 1 if it moved else 0}.
local marker, moved = move_delivered(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return { marker or "", moved and 1 or 0 }
