import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DuetError } from "../../src/core/errors.js";
import type { BrokerMessage } from "../../src/core/ports/broker.js";
import type { SendInput } from "../../src/core/types.js";
import { openRedisBroker, type RedisBroker } from "../../src/stores/redis/redis-broker.js";
import { openRedisStore, type RedisStore } from "../../src/stores/redis/redis-store.js";
import { at, sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";

const retention = { maxEvents: 100, maxAgeMs: 86_400_000 };

function text(from: string, to: string, body: string, clientMsgId: string | null = null): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId };
}

function isUnavailable(err: unknown): boolean {
  return err instanceof DuetError && err.code === "store_unavailable" && err.status === 503;
}

/** Resolves with how long `promise` took to reject with store_unavailable. */
async function rejectsUnavailable(promise: Promise<unknown>): Promise<number> {
  const start = Date.now();
  await assert.rejects(promise, isUnavailable);
  return Date.now() - start;
}

async function eventually(check: () => Promise<unknown>, timeoutMs = 5000): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      await check();
      return Date.now() - start;
    } catch (err) {
      if (Date.now() - start > timeoutMs) throw err;
      await sleep(50);
    }
  }
}

describe("Redis failures (standalone, AOF on)", () => {
  let server: RedisServer;
  let store: RedisStore;
  before(async () => {
    server = await startRedis({ appendonly: true });
    store = await openRedisStore(server.url, { retention, timeoutMs: 500 });
  });
  after(async () => {
    await store.close();
    await stopAllRedis();
  });

  it("rejects with store_unavailable when Redis hangs, and recovers when it answers again", async () => {
    await store.send(text("alice", "bob", "before the hang"));
    server.pause();
    try {
      const took = await rejectsUnavailable(store.send(text("alice", "bob", "during", "h-1")));
      assert.ok(took >= 400 && took < 1500, `rejected after ${took} ms`);
    } finally {
      server.resume();
    }
    // The send may have run once Redis woke up: a retry with its clientMsgId cannot store it twice.
    await eventually(() => store.send(text("alice", "bob", "during", "h-1")));
    const texts = (await store.history("alice", "bob", { limit: 10 })).messages.map((m) => m.text);
    assert.deepEqual(texts, ["before the hang", "during"]);
  });

  it("rejects at once while Redis is down, and keeps its data and epoch across a restart", async () => {
    const sent = await store.send(text("carol", "dave", "kept", "k-1"));
    await server.stop("SIGKILL");
    for (const op of [
      () => store.send(text("carol", "dave", "lost")),
      () => store.history("carol", "dave", { limit: 10 }),
      () => store.eventsSince("dave", 0, 10),
      () => store.ping(),
    ]) {
      const took = await rejectsUnavailable(op());
      assert.ok(took < 300, `rejected after ${took} ms`);
    }
    await server.start();
    const recoveredIn = await eventually(() => store.ping());
    assert.ok(recoveredIn < 3000, `recovered after ${recoveredIn} ms`);
    const history = await store.history("carol", "dave", { limit: 10 });
    assert.deepEqual(history.messages, [sent.message]);
    const again = await store.send(text("carol", "dave", "kept", "k-1"));
    assert.equal(again.duplicate, true);
    const next = await store.send(text("dave", "carol", "after"));
    assert.deepEqual(
      next.events.map((e) => [e.user, e.event.seq]),
      [
        ["dave", 2],
        ["carol", 2],
      ],
    );
    const reopened = await openRedisStore(server.url, { retention });
    assert.equal(reopened.epoch, store.epoch);
    await reopened.close();
  });

  it("gives a wiped Redis a new epoch, which running stores pick up", async () => {
    const watching = await openRedisStore(server.url, { retention, epochCheckMs: 50 });
    const old = watching.epoch;
    assert.equal(old, store.epoch);
    await server.cli("FLUSHALL");
    const fresh = await openRedisStore(server.url, { retention });
    assert.notEqual(fresh.epoch, old);
    await eventually(async () => assert.equal(watching.epoch, fresh.epoch), 1000);
    await Promise.all([fresh.close(), watching.close()]);
  });

  it("fails to open promptly when Redis is not there", async () => {
    const down = await startRedis();
    await down.stop("SIGKILL");
    const took = await rejectsUnavailable(openRedisStore(down.url, { retention, timeoutMs: 300 }));
    assert.ok(took < 6000, `rejected after ${took} ms`);
  });
});

describe("RedisBroker across a Redis restart", () => {
  let server: RedisServer;
  let a: RedisBroker;
  let b: RedisBroker;
  before(async () => {
    server = await startRedis();
    [a, b] = await Promise.all([openRedisBroker(server.url), openRedisBroker(server.url)]);
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    await stopAllRedis();
  });

  it("drops publications while down without throwing, then resubscribes and delivers again", async () => {
    const got: BrokerMessage[] = [];
    let resyncs = 0;
    a.onMessage((_user, message) => got.push(message));
    a.onResync(() => resyncs++);
    a.subscribe("erin");
    await a.whenSubscribed("erin");
    await server.stop("SIGKILL");
    b.publish("erin", { kind: "event", seq: 1, json: "{}" });
    await sleep(50);
    assert.equal(b.dropped, 1);
    await server.start();
    await eventually(async () => {
      b.publish("erin", { kind: "event", seq: 2, json: "{}" });
      await sleep(50);
      assert.ok(got.length > 0);
    });
    const first = at(got, 0);
    assert.equal(first.kind === "event" && first.seq, 2);
    assert.equal(resyncs, 1);
  });
});
