import { after, before } from "node:test";
import type { Store } from "../../src/core/ports/store.js";
import { openRedisStore, type RedisStore } from "../../src/stores/redis/redis-store.js";
import {
  type RedisCluster,
  type RedisServer,
  startRedis,
  startRedisCluster,
  stopAllRedis,
} from "../helpers/redis-server.js";
import { runExpiryContract } from "./expiry-contract.js";

let server: RedisServer;
let cluster: RedisCluster;
let dataSets = 0;
before(async () => {
  [server, cluster] = await Promise.all([startRedis(), startRedisCluster({ masters: 3, replicas: 0 })]);
});
after(stopAllRedis);

const retention = { maxEvents: 200, maxAgeMs: 30 * 86_400_000 };

const rawBody = async (store: Store, a: string, b: string, id: string) => {
  const redis = store as RedisStore;
  return redis.client.hget(redis.internals().keys.conversation(a, b).msg, id);
};

runExpiryContract("redis (standalone)", {
  makeStore: ({ messageTtlS }) =>
    openRedisStore(server.url, {
      prefix: `x${++dataSets}:`,
      retention,
      ...(messageTtlS === undefined ? {} : { messageTtlS }),
    }),
  rawBody,
});

runExpiryContract("redis cluster", {
  makeStore: ({ messageTtlS }) =>
    openRedisStore(cluster.url, {
      prefix: `x${++dataSets}:`,
      retention,
      ...(messageTtlS === undefined ? {} : { messageTtlS }),
    }),
  rawBody,
});
