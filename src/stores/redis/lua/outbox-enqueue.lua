-- Enqueues entries. KEYS: due, e. ARGV: 1 now (ms), then id, type, data, due_at ("" = now) per entry.
local now = ARGV[1]
local added = 0
for i = 2, #ARGV, 4 do
  local due_at = ARGV[i + 3]
  if due_at == "" then
    due_at = now
  end
  added = added + outbox_add(KEYS[1], KEYS[2], ARGV[i], ARGV[i + 1], ARGV[i + 2], now, due_at)
end
return added
