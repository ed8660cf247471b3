-- Redis Cluster, the end of an unmatch (conversation slot): no longer pending, unless the pair
-- was matched again meanwhile (then there is nothing to clear). KEYS: pair.
if redis.call("HGET", KEYS[1], "state") == "u" then
  redis.call("HDEL", KEYS[1], "pending")
end
return 1
