import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { SendInput } from "../../src/core/types.js";
import { parseRedisUrl } from "../../src/stores/redis/connection.js";
import { RedisKeys } from "../../src/stores/redis/keys.js";
import { openRedisStore, type RedisStore } from "../../src/stores/redis/redis-store.js";
import { at, sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { runBansContract } from "./bans-contract.js";
import { runStoreContract } from "./contract.js";
import { runLifecycleContract } from "./lifecycle-contract.js";
import { runOutboxContract, runPushContract } from "./outbox-contract.js";
import { runPairsContract } from "./pairs-contract.js";
import { runReportsContract } from "./reports-contract.js";

let server: RedisServer;
let dataSets = 0;
before(async () => {
  server = await startRedis();
});
after(stopAllRedis);

const MONTH = 30 * 86_400_000;

runStoreContract("redis (standalone)", {
  // A fresh key prefix is a fresh, empty data set on the same server.
  makeStore: ({ maxEvents }) =>
    openRedisStore(server.url, { prefix: `t${++dataSets}:`, retention: { maxEvents, maxAgeMs: MONTH } }),
});

runBansContract("redis (standalone)", () =>
  openRedisStore(server.url, { prefix: `t${++dataSets}:`, retention: { maxEvents: 100, maxAgeMs: MONTH } }),
);
runReportsContract("redis (standalone)", () =>
  openRedisStore(server.url, { prefix: `t${++dataSets}:`, retention: { maxEvents: 100, maxAgeMs: MONTH } }),
);

runPairsContract("redis (standalone)", {
  makeStore: ({ maxEvents, pairs }) =>
    openRedisStore(server.url, {
      prefix: `t${++dataSets}:`,
      retention: { maxEvents, maxAgeMs: MONTH },
      pairs,
    }),
});
let outboxPrefix = "";
runOutboxContract(
  "redis (standalone)",
  () => {
    outboxPrefix = `t${++dataSets}:`;
    return openRedisStore(server.url, {
      prefix: outboxPrefix,
      retention: { maxEvents: 100, maxAgeMs: MONTH },
    });
  },
  // A second process on the same data: leases and batches must hold across instances.
  () => openRedisStore(server.url, { prefix: outboxPrefix, retention: { maxEvents: 100, maxAgeMs: MONTH } }),
);

runLifecycleContract("redis (standalone)", ({ maxEvents }) =>
  openRedisStore(server.url, { prefix: `t${++dataSets}:`, retention: { maxEvents, maxAgeMs: MONTH } }),
);

function text(from: string, to: string, body: string, clientMsgId: string | null = null): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId };
}

runPushContract("redis", () =>
  openRedisStore(server.url, { prefix: `t${++dataSets}:`, retention: { maxEvents: 100, maxAgeMs: MONTH } }),
);

describe("redis store (standalone) specifics", () => {
  let store: RedisStore;
  let prefix: string;
  before(async () => {
    prefix = `s${++dataSets}:`;
    store = await openRedisStore(server.url, { prefix, retention: { maxEvents: 100, maxAgeMs: MONTH } });
  });
  after(() => store.close());

  it("sends in exactly one round trip: one script call, nothing else", async () => {
    await store.send(text("alice", "bob", "warm-up"));
    const admin = new Redis(server.url);
    const monitor = await admin.monitor();
    const seen: string[] = [];
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      const command = at(args, 0).toLowerCase();
      // INCRBY: the message count's flush, once a second whatever the sends (message-count.ts).
      if (source !== "lua" && command !== "incrby") seen.push(command);
    });
    await sleep(50);
    const before = store.roundTrips;
    const sent = await store.send(text("alice", "bob", "hi", "c-1"));
    assert.equal(store.roundTrips - before, 1);
    assert.equal(sent.events.length, 2);
    const repeat = await store.send(text("alice", "bob", "hi", "c-1"));
    assert.equal(repeat.duplicate, true);
    const marked = await store.markRead("bob", "alice", sent.message.id);
    assert.equal(marked.events.length, 2);
    assert.equal(store.roundTrips - before, 3);
    await sleep(100);
    monitor.disconnect();
    admin.disconnect();
    // ioredis sends a script's first call on a connection as EVAL, later ones as EVALSHA.
    assert.deepEqual(
      seen.map((command) => command.replace(/sha$/, "")),
      ["eval", "eval", "eval"],
    );
  });

  it("assigns ids after the conversation's last one even when the clock is behind it", async () => {
    const first = await store.send(text("carol", "dave", "one"));
    // As if a process on a server with a clock far ahead had sent the last message.
    const last = `${first.message.id.slice(0, 8)}ZZ${"Z".repeat(16)}`;
    const admin = new Redis(server.url);
    try {
      await admin.zadd(new RedisKeys(prefix).conversation("carol", "dave").ids, 0, last);
    } finally {
      admin.disconnect();
    }
    const next = await store.send(text("dave", "carol", "two"));
    assert.ok(next.message.id > last, `${next.message.id} > ${last}`);
    assert.match(next.message.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.ok(next.message.ts > first.message.ts);
    const { messages } = await store.history("carol", "dave", { limit: 1 });
    assert.deepEqual(messages, [next.message]);
  });

  it("drops events older than maxAgeMs as part of the writes", async () => {
    const aged = await openRedisStore(server.url, {
      prefix: `s${++dataSets}:`,
      retention: { maxEvents: 1000, maxAgeMs: 400 },
    });
    try {
      // A steady writer: the log never idles long enough to expire, its head ages out.
      for (let i = 0; i < 48; i++) {
        await aged.send(text("gail", "hugo", `m${i}`));
        await sleep(25);
      }
      const all = await aged.eventsSince("hugo", 1, 100);
      assert.deepEqual([all.reset, all.head], [true, 48]);
      const recent = await aged.eventsSince("hugo", 47, 100);
      assert.deepEqual([recent.reset, recent.events.length], [false, 1]);
    } finally {
      await aged.close();
    }
  });

  it("expires an idle log as a whole, keeping its head", async () => {
    const aged = await openRedisStore(server.url, {
      prefix: `s${++dataSets}:`,
      retention: { maxEvents: 100, maxAgeMs: 300 },
    });
    try {
      for (let i = 0; i < 3; i++) await aged.send(text("erin", "frank", `old${i}`));
      assert.equal((await aged.eventsSince("frank", 0, 10)).events.length, 3);
      await sleep(400);
      assert.deepEqual(await aged.eventsSince("frank", 2, 10), { events: [], head: 3, reset: true });
      assert.deepEqual(await aged.eventsSince("frank", 3, 10), { events: [], head: 3, reset: false });
      const next = await aged.send(text("erin", "frank", "next"));
      assert.equal(at(next.events, 1).event.seq, 4);
      assert.deepEqual((await aged.eventsSince("frank", 3, 10)).events, [at(next.events, 1).event]);
      assert.equal((await aged.history("erin", "frank", { limit: 10 })).messages.length, 4);
    } finally {
      await aged.close();
    }
  });
});

describe("Redis URLs and keys", () => {
  it("parses standalone and cluster URLs", () => {
    assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6379"), {
      cluster: false,
      url: "redis://127.0.0.1:6379",
      nodes: [],
    });
    assert.equal(parseRedisUrl("rediss://:secret@redis.example:6380/2").cluster, false);
    assert.deepEqual(parseRedisUrl("redis-cluster://:p%40ss@10.0.0.1:7000,10.0.0.2:7001/"), {
      cluster: true,
      url: "redis-cluster://:p%40ss@10.0.0.1:7000,10.0.0.2:7001/",
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
      ],
      password: "p@ss",
    });
    assert.throws(() => parseRedisUrl("redis-cluster://h1:99999"));
    assert.throws(() => parseRedisUrl("http://h1:6379"));
  });

  it("tags every key of a user, and of a conversation, with one hash tag", () => {
    const keys = new RedisKeys("duet:");
    const tag = (key: string) => key.slice(key.indexOf("{") + 1, key.indexOf("}"));
    const user = keys.user("a.b@c");
    assert.deepEqual(new Set(Object.values(user).map(tag)), new Set(["u:a.b@c"]));
    const conv = keys.conversation("zed", "amy");
    assert.deepEqual(
      new Set([conv.meta, conv.msg, conv.ids, conv.from("zed"), conv.cmid, conv.blk, conv.pair].map(tag)),
      new Set(["c:amy|zed"]),
    );
    assert.equal(keys.conversation("amy", "zed").meta, conv.meta);
    assert.equal(keys.channelUser(user.channel), "a.b@c");
    assert.throws(() => new RedisKeys("{bad}"));
  });
});
