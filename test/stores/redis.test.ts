import { after, before } from "node:test";
import { openRedisStore } from "../../src/stores/redis/redis-store.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { runStoreContract } from "./contract.js";

let server: RedisServer;
let dataSets = 0;
before(async () => {
  server = await startRedis();
});
after(stopAllRedis);

runStoreContract("redis (standalone)", {
  // A fresh key prefix is a fresh, empty data set on the same server.
  makeStore: ({ maxEvents }) =>
    openRedisStore(server.url, {
      prefix: `t${++dataSets}:`,
      retention: { maxEvents, maxAgeMs: 30 * 86_400_000 },
    }),
});
