/**
 * StoreHealth's bookkeeping over a store whose ping the test controls (the real outage, with a
 * real redis-server stopped under load, is test/ops/outage.test.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DuetError } from "../../src/core/errors.js";
import { StoreHealth } from "../../src/ops/store-health.js";
import { at } from "../helpers/kit.js";
import { captureLog, WARN } from "./log-capture.js";

function fakeStore() {
  const store = {
    name: "fake",
    up: true,
    pings: 0,
    ping(): Promise<void> {
      store.pings++;
      return store.up
        ? Promise.resolve()
        : Promise.reject(new DuetError("store_unavailable", "fake: connection refused"));
    },
  };
  return store;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("StoreHealth", () => {
  it("logs one warning when refusals begin and one line with the duration and count when a ping succeeds", async (t) => {
    t.mock.timers.enable({ apis: ["setInterval"] });
    const { log, lines } = captureLog("info");
    const store = fakeStore();
    const health = new StoreHealth(store, log, { checkMs: 5000, downCheckMs: 500 });
    store.up = false;
    for (let i = 0; i < 948; i++)
      health.refused(new DuetError("store_unavailable", "Redis: Stream isn't writeable"));
    assert.equal(health.available, false);
    assert.equal(lines.length, 1);
    assert.equal(at(lines, 0).level, WARN);
    assert.equal(at(lines, 0).msg, "store unavailable");
    assert.equal(at(lines, 0).store, "fake");
    assert.equal(at(lines, 0).cause, "Redis: Stream isn't writeable");
    // Failed pings during the outage add nothing to the log.
    for (let i = 0; i < 5; i++) {
      t.mock.timers.tick(500);
      await flush();
    }
    assert.ok(store.pings >= 5);
    assert.equal(lines.length, 1);
    store.up = true;
    t.mock.timers.tick(500);
    await flush();
    assert.equal(health.available, true);
    assert.equal(lines.length, 2);
    assert.equal(at(lines, 1).msg, "store available again");
    assert.equal(at(lines, 1).refused, 948);
    assert.equal(typeof at(lines, 1).downMs, "number");
    health.close();
  });

  it("sees an outage with no traffic through its periodic ping", async (t) => {
    t.mock.timers.enable({ apis: ["setInterval"] });
    const { log, lines } = captureLog("info");
    const store = fakeStore();
    const health = new StoreHealth(store, log, { checkMs: 5000, downCheckMs: 500 });
    t.mock.timers.tick(5000);
    await flush();
    assert.equal(lines.length, 0);
    store.up = false;
    t.mock.timers.tick(5000);
    await flush();
    assert.equal(lines.length, 1);
    assert.equal(at(lines, 0).cause, ERRORS_DETAIL);
    store.up = true;
    t.mock.timers.tick(500);
    await flush();
    assert.deepEqual(
      lines.map((l) => [l.msg, l.refused]),
      [
        ["store unavailable", undefined],
        ["store available again", 0],
      ],
    );
    health.close();
  });
});

const ERRORS_DETAIL = "fake: connection refused";
