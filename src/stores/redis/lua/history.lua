-- A page of a conversation (its slot), oldest first. With only `after`, pages forward from it;
-- otherwise back from `before` (or the end).
-- KEYS: ids, msg. ARGV: after or "", before or "", limit.
-- Returns {1 if there are more, bodies...}.
local after, before, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ids
if after ~= "" and before == "" then
  ids = redis.call("ZRANGEBYLEX", KEYS[1], "(" .. after, "+", "LIMIT", 0, limit + 1)
else
  local hi = before ~= "" and "(" .. before or "+"
  local lo = after ~= "" and "(" .. after or "-"
  ids = redis.call("ZREVRANGEBYLEX", KEYS[1], hi, lo, "LIMIT", 0, limit + 1)
end
local more = 0
if #ids > limit then
  more = 1
  ids[#ids] = nil
end
if #ids == 0 then
  return { more }
end
local bodies = redis.call("HMGET", KEYS[2], unpack(ids))
local out = { more }
if after ~= "" and before == "" then
  for i = 1, #bodies do
    out[#out + 1] = bodies[i]
  end
else
  for i = #bodies, 1, -1 do
    out[#out + 1] = bodies[i]
  end
end
return out
