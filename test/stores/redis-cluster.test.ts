import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BrokerMessage } from "../../src/core/ports/broker.js";
import type { SendInput } from "../../src/core/types.js";
import { RedisKeys } from "../../src/stores/redis/keys.js";
import { bodyParts, randomIdPart } from "../../src/stores/redis/message-body.js";
import { openRedisBroker } from "../../src/stores/redis/redis-broker.js";
import { openRedisStore, type RedisStore } from "../../src/stores/redis/redis-store.js";
import { Scripts } from "../../src/stores/redis/scripts.js";
import { at, sleep } from "../helpers/kit.js";
import { type RedisCluster, startRedisCluster, stopAllRedis } from "../helpers/redis-server.js";
import { runBansContract } from "./bans-contract.js";
import { runStoreContract } from "./contract.js";
import { runLifecycleContract } from "./lifecycle-contract.js";
import { runOutboxContract, runPushContract } from "./outbox-contract.js";
import { runPairsContract } from "./pairs-contract.js";
import { runReportsContract } from "./reports-contract.js";

let cluster: RedisCluster;
let dataSets = 0;
before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1 });
});
after(stopAllRedis);

const retention = { maxEvents: 100, maxAgeMs: 30 * 86_400_000 };

runStoreContract("redis cluster (3 masters, 3 replicas)", {
  makeStore: ({ maxEvents }) =>
    openRedisStore(cluster.url, { prefix: `t${++dataSets}:`, retention: { ...retention, maxEvents } }),
});

runBansContract("redis cluster", () => openRedisStore(cluster.url, { prefix: `t${++dataSets}:`, retention }));
runReportsContract("redis cluster", () =>
  openRedisStore(cluster.url, { prefix: `t${++dataSets}:`, retention }),
);

runPairsContract("redis cluster", {
  makeStore: ({ maxEvents, pairs }) =>
    openRedisStore(cluster.url, { prefix: `t${++dataSets}:`, retention: { ...retention, maxEvents }, pairs }),
});
let outboxPrefix = "";
runOutboxContract(
  "redis cluster",
  () => {
    outboxPrefix = `t${++dataSets}:`;
    return openRedisStore(cluster.url, { prefix: outboxPrefix, retention });
  },
  // A second process on the same data: leases and batches must hold across instances.
  () => openRedisStore(cluster.url, { prefix: outboxPrefix, retention }),
);

runLifecycleContract("redis cluster", ({ maxEvents }) =>
  openRedisStore(cluster.url, { prefix: `t${++dataSets}:`, retention: { ...retention, maxEvents } }),
);

function text(from: string, to: string, body: string, clientMsgId: string | null = null): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId };
}

runPushContract("redis-cluster", () => openRedisStore(cluster.url, { prefix: `t${++dataSets}:`, retention }));

describe("redis cluster specifics", () => {
  let store: RedisStore;
  let keys: RedisKeys;
  let scripts: Scripts;
  before(async () => {
    const prefix = `s${++dataSets}:`;
    store = await openRedisStore(cluster.url, { prefix, retention });
    keys = new RedisKeys(prefix);
    scripts = new Scripts(store.client);
  });
  after(() => store.close());

  it("sends in three requests over two round-trip times: conversation, then both sides", async () => {
    await store.send(text("alice", "bob", "warm-up"));
    const before = store.roundTrips;
    await store.send(text("alice", "bob", "hi"));
    // The messages-stored count is not one of them: it is added once a second (message-count.ts).
    assert.equal(store.roundTrips - before, 3);
  });

  it("completes a send interrupted after the conversation step when the client retries it", async () => {
    const input = text("carol", "dave", "half-sent", "r-1");
    const conv = keys.conversation("carol", "dave");
    const parts = bodyParts(input);
    // Step 1 only, as if the process died right after it.
    await scripts.run(
      "duetStoreMessage",
      [conv.meta, conv.msg, conv.ids, conv.from("carol"), conv.cmid, conv.blk, conv.pair, conv.exp],
      ["carol", "dave", "r-1", "1", randomIdPart(), parts.head, parts.tail, "0"],
    );
    assert.equal(await store.head("dave"), 0);
    const retry = await store.send(input);
    assert.equal(retry.duplicate, true);
    assert.deepEqual(
      retry.events.map((e) => [e.user, e.event.seq]),
      [
        ["carol", 1],
        ["dave", 1],
      ],
    );
    const again = await store.send(input);
    assert.deepEqual(again.events, []);
    assert.deepEqual((await store.eventsSince("dave", 0, 10)).events, [at(retry.events, 1).event]);
    const summary = at(await store.conversations("dave", 10), 0);
    assert.deepEqual([summary.peer, summary.unread, summary.lastMessage], ["carol", 1, retry.message]);
  });

  it("completes a mark-read interrupted after the marker moved when it is repeated", async () => {
    const sent = await store.send(text("erin", "frank", "read me"));
    const conv = keys.conversation("erin", "frank");
    await scripts.run("duetMoveMarker", [conv.meta, conv.from("erin")], ["frank", sent.message.id]);
    assert.equal((await store.conversations("frank", 10))[0]?.unread, 0);
    const repeat = await store.markRead("frank", "erin", sent.message.id);
    assert.deepEqual(
      repeat.events.map((e) => [e.user, e.event.type]),
      [
        ["frank", "read"],
        ["erin", "read"],
      ],
    );
    assert.deepEqual((await store.markRead("frank", "erin", sent.message.id)).events, []);
  });

  it("delivers broker messages between processes through sharded pub/sub", async () => {
    const [a, b] = await Promise.all([openRedisBroker(cluster.url), openRedisBroker(cluster.url)]);
    try {
      const got: Array<[string, BrokerMessage]> = [];
      a.onMessage((user, message) => got.push([user, message]));
      b.onMessage(() => assert.fail("echo"));
      const users = Array.from({ length: 12 }, (_, i) => `user${i}`); // spread over the shards
      for (const user of users) {
        a.subscribe(user);
        b.subscribe(user);
      }
      await Promise.all(users.map((u) => a.whenSubscribed(u)));
      for (const user of users)
        for (let seq = 1; seq <= 5; seq++) b.publish(user, { kind: "event", seq, json: "{}" });
      const deadline = Date.now() + 3000;
      while (got.length < 60 && Date.now() < deadline) await sleep(10);
      for (const user of users) {
        assert.deepEqual(
          got.filter(([u]) => u === user).map(([, m]) => (m.kind === "event" ? m.seq : 0)),
          [1, 2, 3, 4, 5],
        );
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("keeps storing and delivering after a master fails and its replica takes over", async () => {
    const [a, b] = await Promise.all([openRedisBroker(cluster.url), openRedisBroker(cluster.url)]);
    try {
      const got: number[] = [];
      a.onMessage((_user, m) => got.push(m.kind === "event" ? (m.seq ?? 0) : 0));
      a.subscribe("hank");
      await a.whenSubscribed("hank");
      const before = await store.send(text("gina", "hank", "before"));
      // The master of hank's slot: his event log and his pub/sub channel.
      const master = await cluster.masterFor(keys.user("hank").channel);
      await master.stop("SIGKILL");
      const start = Date.now();
      let after: Awaited<ReturnType<RedisStore["send"]>> | undefined;
      while (!after) {
        assert.ok(Date.now() - start < 15_000, "no failover within 15 s");
        after = await store.send(text("hank", "gina", "after", "f-1")).catch(() => undefined);
        if (!after) await sleep(100);
      }
      const history = await store.history("gina", "hank", { limit: 10 });
      assert.deepEqual(
        history.messages.map((m) => m.id),
        [before.message.id, after.message.id],
      );
      assert.equal(await store.head("hank"), 2);
      while (!got.includes(7)) {
        assert.ok(Date.now() - start < 20_000, "no delivery after the failover");
        b.publish("hank", { kind: "event", seq: 7, json: "{}" });
        await sleep(100);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("redis cluster clients and process exit", () => {
  it("a process whose cluster clients are closed exits, even with a slot refresh in flight", async () => {
    // ioredis' own slotsRefreshInterval timer is re-armed by a refresh that is in flight when the
    // client disconnects, and then holds the process open for ever (a test run hung on it).
    const { spawn } = await import("node:child_process");
    const script = `
      import { createClient } from "./src/stores/redis/connection.ts";
      const client = createClient(${JSON.stringify(cluster.url)}, { name: "exit-test", queueWhileOffline: false });
      await client.connect();
      // Closed from inside a periodic slot refresh, the moment ioredis' own timer would re-arm.
      client.once("refresh", () => {
        client.disconnect();
        console.log("closed");
      });
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: new URL("../../", import.meta.url),
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | string | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve("still running 30 s after closing its client");
      }, 30_000);
      child.on("exit", (c, signal) => {
        clearTimeout(timer);
        resolve(c ?? signal);
      });
    });
    assert.match(out, /closed/);
    assert.equal(code, 0);
  });
});
