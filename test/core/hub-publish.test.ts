/**
 * What a send hands the broker: every event goes to the other processes (a broker of any kind
 * but the one-process one), except an event its store has published already; local connections
 * get each event either way. Real Chat, Hub and in-memory SQLite store.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Chat } from "../../src/core/chat.js";
import { Hub, type Listener } from "../../src/core/hub.js";
import { LocalBroker } from "../../src/core/local-broker.js";
import { LocalPresence } from "../../src/core/local-presence.js";
import type { Broker, BrokerHandler, BrokerMessage } from "../../src/core/ports/broker.js";
import type { Sink } from "../../src/core/ports/sink.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { at } from "../helpers/kit.js";

class RecordingBroker implements Broker {
  readonly published: [string, BrokerMessage][] = [];
  onMessage(_handler: BrokerHandler): void {}
  publish(user: string, message: BrokerMessage): void {
    this.published.push([user, message]);
  }
  subscribe(_user: string): void {}
  unsubscribe(_user: string): void {}
  async close(): Promise<void> {}
}

/** A local broker that records: a subclass whose publish is its own is not the silent one. */
class SpyLocalBroker extends LocalBroker {
  readonly published: [string, BrokerMessage][] = [];
  override publish(user: string, message: BrokerMessage): void {
    this.published.push([user, message]);
  }
}

function listener(user: string): Listener & { got: [string, number | null][] } {
  const sink: Sink = { kind: "ws", write() {}, close() {} };
  const got: [string, number | null][] = [];
  return { user, sink, got, push: (json, seq) => got.push([json, seq]), resync() {}, stop() {} };
}

for (const make of [() => new RecordingBroker(), () => new SpyLocalBroker()]) {
  test(`a send's events reach local connections and the broker (${make().constructor.name})`, async () => {
    const broker = make();
    const hub = new Hub(broker, new LocalPresence(), { maxConnectionsPerUser: 5, heartbeatMs: {} });
    const store = new SqliteStore({ path: ":memory:", retention: { maxEvents: 1000, maxAgeMs: 86_400_000 } });
    const chat = new Chat(store, hub, new LocalPresence(), { sendRate: 100, sendBurst: 100 });
    try {
      const bob = listener("bob");
      hub.attach(bob);
      const sent = await chat.send({
        from: "alice",
        to: "bob",
        kind: "text",
        text: "hi",
        image: null,
        links: [],
        clientMsgId: null,
      });
      assert.equal(bob.got.length, 1);
      assert.deepEqual(JSON.parse(at(bob.got, 0)[0]), { type: "message", seq: 1, message: sent.message });
      assert.deepEqual(
        broker.published.map(([user, m]) => [user, m.kind, m.kind === "event" ? m.seq : null]),
        [
          ["alice", "event", 1],
          ["bob", "event", 1],
        ],
      );
      const [, toBob] = at(broker.published, 1);
      assert.equal(toBob.kind === "event" && toBob.json, at(bob.got, 0)[0]);
      assert.equal(toBob.kind === "event" && toBob.sentAt, sent.message.ts);

      // An event its store published already is delivered here and not handed on again.
      broker.published.length = 0;
      hub.deliverHere("bob", 2, '{"type":"x","seq":2}');
      assert.deepEqual(bob.got[1], ['{"type":"x","seq":2}', 2]);
      assert.deepEqual(broker.published, []);
    } finally {
      chat.close();
      hub.close();
      await store.close();
    }
  });
}
