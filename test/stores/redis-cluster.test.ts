import { after, before } from "node:test";
import { openRedisStore } from "../../src/stores/redis/redis-store.js";
import { type RedisCluster, startRedisCluster, stopAllRedis } from "../helpers/redis-server.js";
import { runStoreContract } from "./contract.js";

let cluster: RedisCluster;
let dataSets = 0;
before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1 });
});
after(stopAllRedis);

runStoreContract("redis cluster (3 masters, 3 replicas)", {
  makeStore: ({ maxEvents }) =>
    openRedisStore(cluster.url, {
      prefix: `t${++dataSets}:`,
      retention: { maxEvents, maxAgeMs: 30 * 86_400_000 },
    }),
});
