/** The Redis back end: the store, the cross-process broker and shared presence. */
export { parseRedisUrl } from "./connection.js";
export { newNodeId, openRedisBroker, RedisBroker, type RedisBrokerOptions } from "./redis-broker.js";
export {
  type NodeInfo,
  openRedisPresence,
  RedisPresence,
  type RedisPresenceOptions,
} from "./redis-presence.js";
export { openRedisStore, RedisStore, type RedisStoreOptions } from "./redis-store.js";
