import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BrokerMessage } from "../../src/core/ports/broker.js";
import { openRedisBroker, type RedisBroker } from "../../src/stores/redis/redis-broker.js";
import { sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";

/** Collects what a broker hands its process. */
function inbox(broker: RedisBroker): Array<[string, BrokerMessage]> {
  const got: Array<[string, BrokerMessage]> = [];
  broker.onMessage((user, message) => got.push([user, message]));
  return got;
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(10);
  }
}

const event = (seq: number | null, json: string): BrokerMessage => ({ kind: "event", seq, json });

describe("RedisBroker (standalone)", () => {
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

  it("delivers to the process subscribed to the user, in order, and never back to the publisher", async () => {
    const gotA = inbox(a);
    const gotB = inbox(b);
    a.subscribe("bob");
    b.subscribe("bob");
    await Promise.all([a.whenSubscribed("bob"), b.whenSubscribed("bob")]);
    for (let i = 1; i <= 200; i++) b.publish("bob", event(i, `{"type":"message","seq":${i}}`));
    b.publish("bob", event(null, '{"type":"typing","from":"alice"}'));
    await until(() => gotA.length === 201);
    assert.deepEqual(
      gotA.slice(0, 200).map(([, m]) => (m.kind === "event" ? m.seq : -1)),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.deepEqual(gotA[200], ["bob", event(null, '{"type":"typing","from":"alice"}')]);
    assert.deepEqual(gotA[0], ["bob", event(1, '{"type":"message","seq":1}')]);
    await sleep(50);
    assert.equal(gotB.length, 0, "no echo of its own publications");
    a.publish("bob", { kind: "disconnect" });
    await until(() => gotB.length === 1);
    assert.deepEqual(gotB[0], ["bob", { kind: "disconnect" }]);
  });

  it("delivers only while a local connection exists (subscribe/unsubscribe)", async () => {
    const gotA = inbox(a);
    b.publish("carol", event(1, "{}"));
    await sleep(50);
    assert.equal(gotA.length, 0, "not subscribed to carol");
    a.subscribe("carol");
    await a.whenSubscribed("carol");
    b.publish("carol", event(2, "{}"));
    await until(() => gotA.length === 1);
    a.unsubscribe("carol");
    b.publish("carol", event(3, "{}"));
    await sleep(50);
    assert.deepEqual(
      gotA.map(([, m]) => (m.kind === "event" ? m.seq : -1)),
      [2],
    );
  });

  it("keeps user names with any allowed characters apart", async () => {
    const gotA = inbox(a);
    a.subscribe("x.y@z-1_");
    await a.whenSubscribed("x.y@z-1_");
    b.publish("x.y@z-1_", event(7, '{"a":"|b|"}'));
    b.publish("x.y@z-1", event(8, "{}"));
    await until(() => gotA.length === 1);
    await sleep(30);
    assert.deepEqual(gotA, [["x.y@z-1_", event(7, '{"a":"|b|"}')]]);
  });
});

describe("RedisBroker: a publication that fails is published again", () => {
  it("the newest stored event of a user arrives after the publishing connection dropped", async () => {
    const server = await startRedis();
    const [a, b] = await Promise.all([openRedisBroker(server.url), openRedisBroker(server.url)]);
    try {
      const got = inbox(a);
      a.subscribe("carol");
      await a.whenSubscribed("carol");
      // Drop the command connections (subscribers stay): b's publications fail until it reconnects.
      await server.cli("CLIENT", "KILL", "TYPE", "normal");
      const pub = (b as unknown as { pub: { status: string } }).pub;
      await until(() => pub.status !== "ready", 3000);
      b.publish("carol", event(7, '{"type":"message","seq":7}'));
      b.publish("carol", event(8, '{"type":"message","seq":8}'));
      b.publish("carol", event(null, '{"type":"typing","from":"dave"}'));
      await until(() => b.dropped >= 3, 3000);
      await until(() => got.some(([, m]) => m.kind === "event" && m.seq === 8), 10_000);
      // Only the newest stored event is sent again: a reader catches up on the rest from the store.
      assert.equal(got.filter(([, m]) => m.kind === "event" && m.seq === 7).length, 0);
      assert.equal(got.filter(([, m]) => m.kind === "event" && m.seq === null).length, 0);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await server.destroy();
    }
  });
});
