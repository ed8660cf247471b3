/**
 * EventStream's start: one store read when nothing lands meanwhile (a reconnect storm pays it per
 * client), and a read again when something does. Real in-memory SQLite store, real Hub and local
 * broker; the sink records what it is given.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Chat } from "../../src/core/chat.js";
import { Hub } from "../../src/core/hub.js";
import { LocalBroker } from "../../src/core/local-broker.js";
import { LocalPresence } from "../../src/core/local-presence.js";
import type { Sink } from "../../src/core/ports/sink.js";
import { EventStream } from "../../src/core/stream.js";
import type { SendInput } from "../../src/core/types.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";

function setup() {
  const store = new SqliteStore({ path: ":memory:", retention: { maxEvents: 10_000, maxAgeMs: 86_400_000 } });
  const presence = new LocalPresence();
  const hub = new Hub(new LocalBroker(), presence, { maxConnectionsPerUser: 5, heartbeatMs: {} });
  const chat = new Chat(store, hub, presence, { sendRate: 1e6, sendBurst: 1e6 });
  let reads = 0;
  let duringRead: (() => Promise<void>) | null = null;
  const eventsSince = store.eventsSince.bind(store);
  // The real method, counted; a test can have a send land while a read is under way.
  store.eventsSince = async (user, since, limit) => {
    reads++;
    const page = await eventsSince(user, since, limit);
    const hook = duringRead;
    duringRead = null;
    if (hook) await hook();
    return page;
  };
  const seqs: number[] = [];
  const sink: Sink = {
    kind: "stream",
    write: (json, seq) => {
      if (seq !== null && JSON.parse(json).type === "message") seqs.push(seq);
    },
    close: () => {},
  };
  const text = (from: string, to: string, body: string): SendInput => ({
    from,
    to,
    kind: "text",
    text: body,
    image: null,
    links: [],
    clientMsgId: null,
  });
  return {
    store,
    chat,
    seqs,
    reads: () => reads,
    duringRead: (hook: () => Promise<void>) => {
      duringRead = hook;
    },
    stream: () => new EventStream(hub, store, "bob", sink),
    send: (body: string) => chat.send(text("alice", "bob", body)),
  };
}

describe("EventStream start", () => {
  it("reads the store once to resume when nothing lands meanwhile, then delivers live", async () => {
    const t = setup();
    for (let i = 0; i < 3; i++) await t.send(`m${i}`);
    const stream = t.stream();
    await stream.start({ seq: 1, epoch: t.store.epoch });
    assert.equal(t.reads(), 1);
    assert.deepEqual(t.seqs, [2, 3]);
    await t.send("live");
    assert.deepEqual(t.seqs, [2, 3, 4]);
    assert.equal(t.reads(), 1);
    stream.stop();
  });

  it("reads again when a message is stored while the first read is under way, and delivers it once", async () => {
    const t = setup();
    for (let i = 0; i < 3; i++) await t.send(`m${i}`);
    t.duringRead(async () => {
      await t.send("while reading");
    });
    const stream = t.stream();
    await stream.start({ seq: 0, epoch: t.store.epoch });
    assert.deepEqual(t.seqs, [1, 2, 3, 4]);
    assert.equal(t.reads(), 2);
    await t.send("live");
    assert.deepEqual(t.seqs, [1, 2, 3, 4, 5]);
    stream.stop();
  });

  it("keeps reading while pages come back full", async () => {
    const t = setup();
    await Promise.all(Array.from({ length: 1200 }, (_, i) => t.send(`m${i}`)));
    const stream = t.stream();
    await stream.start({ seq: 0, epoch: t.store.epoch });
    assert.equal(t.seqs.length, 1200);
    assert.deepEqual(
      t.seqs,
      Array.from({ length: 1200 }, (_, i) => i + 1),
    );
    assert.equal(t.reads(), 3); // 500 + 500 + 200
    stream.stop();
  });
});
