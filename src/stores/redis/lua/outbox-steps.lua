-- The durable outbox on Redis (src/core/ports/outbox.ts, redis-outbox.ts). Its keys share the
-- hash tag {ob}, so every outbox script runs in one slot, on Redis Cluster too:
--   due     zset  pending entry id -> when it is due (ms); a claimed entry's score is its lease's end
--   e       hash  entry id -> "<createdAt>\n<attempts>\n<type>\n<lastError>\n<data JSON>"
--   failed  zset  failed entry id -> when it failed (ms)
-- Other scripts that must enqueue in the same atomic step as their write include this file and
-- call outbox_add (on standalone Redis only: on a cluster the outbox is another slot).

local function outbox_value(created, attempts, type, last_error, data)
  return created .. "\n" .. attempts .. "\n" .. type .. "\n" .. last_error .. "\n" .. data
end

-- Splits a stored value into created, attempts, type, last_error, data.
local function outbox_parse(value)
  local a = string.find(value, "\n", 1, true)
  local b = string.find(value, "\n", a + 1, true)
  local c = string.find(value, "\n", b + 1, true)
  local d = string.find(value, "\n", c + 1, true)
  return string.sub(value, 1, a - 1), tonumber(string.sub(value, a + 1, b - 1)),
    string.sub(value, b + 1, c - 1), string.sub(value, c + 1, d - 1), string.sub(value, d + 1)
end

-- Adds an entry unless its id is pending or failed already. created and due_at: ms (strings or numbers).
-- Returns 1 when added.
local function outbox_add(due, entries, id, type, data, created, due_at)
  if redis.call("HEXISTS", entries, id) == 1 then
    return 0
  end
  redis.call("HSET", entries, id, outbox_value(created, 0, type, "", data))
  redis.call("ZADD", due, due_at, id)
  return 1
end
