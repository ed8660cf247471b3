-- Standalone Redis: the sweeper's erasure of some of one conversation's expired messages, in one
-- script. KEYS: msg, exp, from_lo, from_hi, lo's log, lo's last, hi's log, hi's last
-- ARGV: lo, hi, now (ms), then the ids. Returns how many were erased.
local ids = {}
for i = 4, #ARGV do
  ids[#ids + 1] = ARGV[i]
end
local pairs_ = expire_messages({ KEYS[1], KEYS[2], KEYS[3], KEYS[4] }, ARGV[1], tonumber(ARGV[3]), ids)
if #pairs_ > 0 then
  expire_in_log({ KEYS[5], KEYS[6] }, ARGV[2], pairs_)
  expire_in_log({ KEYS[7], KEYS[8] }, ARGV[1], pairs_)
end
return #pairs_ / 2
