-- Redis Cluster, step 1 of a message change (conversation slot).
-- KEYS: msg, sender's from_ids. ARGV: id, expected body, new body, "1" to erase.
-- Returns {"ok"} or {"retry", current body or false}.
local done, current = change_body(KEYS, ARGV[1], ARGV[2], ARGV[3], ARGV[4] == "1")
if not done then
  return { "retry", current }
end
return { "ok" }
