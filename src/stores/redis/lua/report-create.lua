-- Files a report (SPEC 12). KEYS: reports hash, open zset. ARGV: id, report JSON.
-- Ids are ULIDs: score 0 and lexicographic order is the order reports were filed.
if redis.call("HSETNX", KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call("ZADD", KEYS[2], 0, ARGV[1])
end
return 1
