/**
 * After a Redis outage each of duet's Redis connections comes back on its own schedule: the
 * broker's subscriber (or another process's publisher) may be back while this process's store
 * connection still waits for its next reconnection attempt. A stream that must catch up from the
 * store then (the broker asks for a resync, or a live event shows a gap) must try again shortly,
 * not drop its client (seen once in the Redis restart test: a WebSocket closed with
 * store_unavailable right after the restart). Here on a real Hub and a real (in-memory) SQLite
 * store that fails its next reads, so the order of events is certain.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DuetError, type ErrorCode } from "../../src/core/errors.js";
import { Hub } from "../../src/core/hub.js";
import { LocalBroker } from "../../src/core/local-broker.js";
import { LocalPresence } from "../../src/core/local-presence.js";
import type { Broker } from "../../src/core/ports/broker.js";
import type { Sink } from "../../src/core/ports/sink.js";
import type { Store } from "../../src/core/ports/store.js";
import { EventStream } from "../../src/core/stream.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { eventually } from "./scale.js";

/** A local broker that can tell the hub it reconnected. */
class ReconnectingBroker extends LocalBroker implements Broker {
  private resyncHandler: () => void = () => {};
  onResync(handler: () => void): void {
    this.resyncHandler = handler;
  }
  reconnected(): void {
    this.resyncHandler();
  }
}

/** A stream of bob's on a real Hub and a store whose next `failures` reads fail. */
async function setUp() {
  const store = new SqliteStore({ path: ":memory:", retention: { maxEvents: 1000, maxAgeMs: 86_400_000 } });
  const state = { failures: 0 };
  const flaky: Store = Object.create(store, {
    eventsSince: {
      value: (user: string, since: number, limit: number) => {
        if (state.failures > 0) {
          state.failures--;
          return Promise.reject(new DuetError("store_unavailable", "Redis: Connection is closed."));
        }
        return store.eventsSince(user, since, limit);
      },
    },
  }) as Store;
  const broker = new ReconnectingBroker();
  const hub = new Hub(broker, new LocalPresence(), { maxConnectionsPerUser: 5, heartbeatMs: {} });
  const written: number[] = [];
  const closed: { reason: ErrorCode | null } = { reason: null };
  const sink: Sink = {
    kind: "stream",
    write: (_json, seq) => {
      if (seq !== null) written.push(seq);
    },
    close: (reason) => {
      closed.reason = reason;
    },
  };
  const stream = new EventStream(hub, flaky, "bob", sink);
  await stream.start({});
  /** A message to bob, stored (as another process would) without reaching this process. */
  const storeMessage = (text: string) =>
    store.send({ from: "alice", to: "bob", kind: "text", text, image: null, links: [], clientMsgId: null });
  const tearDown = async () => {
    stream.stop();
    hub.close();
    await store.close();
  };
  return { state, broker, hub, written, closed, storeMessage, tearDown };
}

describe("a catch-up while the store is not back yet", () => {
  it("after a broker reconnection: keeps the connection and delivers once the store answers", async () => {
    const t = await setUp();
    try {
      await t.storeMessage("during the outage");
      t.state.failures = 2;
      t.broker.reconnected();
      await eventually("the missed event", () => t.written.includes(1) || t.closed.reason !== null, 10_000);
      assert.equal(t.closed.reason, null, "the connection stays open");
      assert.deepEqual(t.written, [1]);
    } finally {
      await t.tearDown();
    }
  });

  it("after a live event past a gap: keeps the connection and delivers once the store answers", async () => {
    const t = await setUp();
    try {
      await t.storeMessage("lost publication");
      const second = await t.storeMessage("published");
      const event = second.events.find((e) => e.user === "bob")?.event;
      t.state.failures = 2;
      t.hub.publish("bob", { kind: "event", seq: 2, json: JSON.stringify(event) });
      await eventually("both events", () => t.written.length === 2 || t.closed.reason !== null, 10_000);
      assert.equal(t.closed.reason, null, "the connection stays open");
      assert.deepEqual(t.written, [1, 2]);
    } finally {
      await t.tearDown();
    }
  });
});
