/**
 * After a Redis outage each of duet's Redis connections comes back on its own schedule: the
 * broker's subscriber may be back (and ask every stream to resync) while the store's connection
 * is still waiting for its next reconnection attempt. A stream whose resync finds the store not
 * reachable yet must try again, not drop its client (seen in the Redis restart test: a WebSocket
 * closed with store_unavailable right after the restart). Here on a real Hub and a real (in-memory)
 * SQLite store that fails its first reads, so the order of events is certain.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Broker, LocalBroker } from "../../src/core/broker.js";
import { DuetError, type ErrorCode } from "../../src/core/errors.js";
import { Hub } from "../../src/core/hub.js";
import { LocalPresence } from "../../src/core/presence.js";
import { EventStream, type Sink } from "../../src/core/stream.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import type { Store } from "../../src/stores/store.js";
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

describe("a resync while the store is not back yet", () => {
  it("keeps the connection and delivers once the store answers", async () => {
    const store = new SqliteStore({ path: ":memory:", retention: { maxEvents: 1000, maxAgeMs: 86_400_000 } });
    let failures = 0;
    // The store's connection is still down for its next two reads.
    const flaky: Store = Object.create(store, {
      eventsSince: {
        value: (user: string, since: number, limit: number) => {
          if (failures > 0) {
            failures--;
            return Promise.reject(new DuetError("store_unavailable", "Redis: Connection is closed."));
          }
          return store.eventsSince(user, since, limit);
        },
      },
    }) as Store;
    const broker = new ReconnectingBroker();
    const hub = new Hub(broker, new LocalPresence(), { maxConnectionsPerUser: 5, heartbeatMs: {} });
    const written: number[] = [];
    let closedWith: ErrorCode | null = null;
    const sink: Sink = {
      kind: "stream",
      write: (_json, seq) => {
        if (seq !== null) written.push(seq);
      },
      close: (reason) => {
        closedWith = reason;
      },
    };
    const stream = new EventStream(hub, flaky, "bob", sink);
    try {
      await stream.start({});
      // Stored while the broker was away: its publication never reached this process.
      await store.send({
        from: "alice",
        to: "bob",
        kind: "text",
        text: "during the outage",
        image: null,
        links: [],
        clientMsgId: null,
      });
      failures = 2;
      broker.reconnected();
      await eventually("the missed event", () => written.includes(1) || closedWith !== null, 10_000);
      assert.equal(closedWith, null, "the connection stays open");
      assert.deepEqual(written, [1]);
    } finally {
      stream.stop();
      hub.close();
      await store.close();
    }
  });
});
