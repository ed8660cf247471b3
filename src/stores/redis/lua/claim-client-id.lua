-- Redis Cluster, before a send with a clientMsgId (the sender's slot): a clientMsgId is the
-- sender's across conversations (SPEC 3), so it is claimed for one peer here.
-- KEYS: the sender's cmid (fields: the SHA-1 of each clientMsgId). ARGV: clientMsgId, peer.
-- Returns the peer (and message id, when a standalone send recorded it) the clientMsgId was
-- claimed for already, or false after claiming it for `peer`.
local field = redis.sha1hex(ARGV[1])
local prior = redis.call("HGET", KEYS[1], field)
if prior then
  return prior
end
redis.call("HSET", KEYS[1], field, ARGV[2])
return false
