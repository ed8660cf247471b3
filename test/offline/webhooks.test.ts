/** SPEC section 14, webhooks: signed, durable, retried, never slowing a send. SQLite and Redis. */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { API_KEY, api, spawnDuet, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at, freePort, sleep } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { type Receiver, startReceiver, WEBHOOK_SECRET } from "../helpers/webhook-receiver.js";

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(stopAllRedis);

async function send(server: { url: string }, from: string, to: string, text: string) {
  const r = await api(server.url, await tokenFor(from), "POST", "/v1/messages", { to, text });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.message as { id: string; ts: number; text: string };
}

for (const storeName of ["sqlite", "redis"] as const) {
  const storeEnv = (): Record<string, string> =>
    storeName === "sqlite" ? { DUET_STORE: tempDbUrl() } : { DUET_STORE: redis.url };

  describe(`webhooks on ${storeName}`, () => {
    let receiver: Receiver;
    let server: TestServer;
    before(async () => {
      receiver = await startReceiver();
      server = await startDuet({
        ...storeEnv(),
        DUET_WEBHOOK_URL: receiver.url,
        DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
        // Notifications (on by default with a webhook URL) are notifications.test.ts's.
        DUET_WEBHOOK_EVENTS: "message.created,user.erased",
      });
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    it("POSTs message.created, signed so that standardwebhooks' Webhook.verify accepts it", async () => {
      const message = await send(server, "alice", "bob", "hello, webhook");
      const hook = at(await receiver.waitFor(1), 0);
      assert.equal(hook.verified, true);
      // Verified again here, explicitly, with the package a receiver would use.
      const payload = new Webhook(WEBHOOK_SECRET).verify(hook.raw, {
        "webhook-id": hook.id,
        "webhook-timestamp": hook.timestamp,
        "webhook-signature": hook.signature,
      }) as { type: string; timestamp: string; data: { message: unknown } };
      assert.equal(payload.type, "message.created");
      assert.deepEqual(payload.data, { message });
      assert.equal(hook.id, `msg_${message.id}`);
      assert.equal(new Date(payload.timestamp).toISOString(), payload.timestamp);
      assert.ok(Math.abs(Number(hook.timestamp) - Date.now() / 1000) < 10);
      assert.throws(() =>
        new Webhook("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").verify(hook.raw, {
          "webhook-id": hook.id,
          "webhook-timestamp": hook.timestamp,
          "webhook-signature": hook.signature,
        }),
      );
    });

    it("retries a receiver that answers 500 twice with the same webhook-id, the first retry within 2 s", async () => {
      receiver.received.length = 0;
      receiver.script = [{ status: 500 }, { status: 500 }];
      const message = await send(server, "carol", "dave", "retry me");
      const hooks = await receiver.waitFor(3, 15_000);
      assert.deepEqual(
        hooks.map((h) => h.id),
        [`msg_${message.id}`, `msg_${message.id}`, `msg_${message.id}`],
      );
      assert.ok(hooks.every((h) => h.verified));
      assert.equal(new Set(hooks.map((h) => h.raw)).size, 1, "the same body every time");
      assert.ok(
        at(hooks, 1).at - at(hooks, 0).at < 2000,
        `first retry after ${at(hooks, 1).at - at(hooks, 0).at} ms`,
      );
      assert.ok(at(hooks, 2).at - at(hooks, 1).at >= 900, "the second retry waits longer");
      await sleep(300);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /duet_outbox_attempts_total\{type="message.created",outcome="retry"\} 2/);
      assert.match(metrics, /duet_outbox_depth\{state="pending"\} 0/);
      assert.match(metrics, /duet_outbox_delivery_seconds_count\{type="message.created"\} [1-9]/);
    });

    it("reads a 10 MB answer no further than it needs, and a receiver that never finishes does not hold sends", async () => {
      receiver.received.length = 0;
      receiver.script = [{ status: 200, bodyBytes: 10 * 1024 * 1024 }, "hang-body", "hang"];
      const started = performance.now();
      for (let i = 0; i < 3; i++) await send(server, "erin", "frank", `m${i}`);
      const sendMs = performance.now() - started;
      assert.ok(sendMs < 1000, `three sends took ${sendMs} ms`);
      // The hanging one is retried after its 5 s timeout; everything arrives in the end.
      const hooks = await receiver.waitFor(4, 20_000);
      assert.equal(new Set(hooks.map((h) => h.id)).size, 3);
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200);
    });
  });
}

describe("webhook failures: the failed list and its retry", () => {
  let receiver: Receiver;
  let server: TestServer;
  before(async () => {
    receiver = await startReceiver();
    receiver.fallback = { status: 503 };
    server = await startDuet({
      DUET_WEBHOOK_URL: receiver.url,
      DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
      DUET_WEBHOOK_RETRY_S: "1",
      DUET_WEBHOOK_EVENTS: "message.created,notification",
    });
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  it("moves what still fails after DUET_WEBHOOK_RETRY_S to the failed list, and resends it on request", async () => {
    const a = await send(server, "gina", "hal", "one");
    const b = await send(server, "gina", "hal", "two");
    const admin = (method: string, path: string, body?: unknown) =>
      api(server.url, API_KEY, method, path, body);
    let failed: { id: string; type: string; attempts: number; lastError: string; data: unknown }[] = [];
    for (let i = 0; i < 50 && failed.length < 2; i++) {
      await sleep(200);
      failed = (await admin("GET", "/v1/admin/webhooks/failed")).body.failed as typeof failed;
    }
    assert.deepEqual(failed.map((f) => f.id).sort(), [`msg_${a.id}`, `msg_${b.id}`].sort());
    for (const f of failed) {
      assert.equal(f.type, "message.created");
      assert.ok(f.attempts >= 1);
      assert.equal(f.lastError, "HTTP 503");
    }
    const first = failed.find((f) => f.id === `msg_${a.id}`);
    assert.deepEqual((first?.data as { message: unknown } | undefined)?.message, a);
    assert.equal((await api(server.url, null, "GET", "/v1/admin/webhooks/failed")).status, 401);
    assert.equal((await admin("POST", "/v1/admin/webhooks/failed/retry", { ids: "x" })).status, 400);
    assert.equal((await admin("POST", "/v1/admin/webhooks/failed/retry", { ids: ["../x\n"] })).status, 400);
    assert.equal((await admin("POST", "/v1/admin/webhooks/failed/retry", { nope: 1 })).status, 400);
    assert.equal((await admin("POST", "/v1/admin/webhooks/failed/retry", "[")).status, 400);
    assert.equal((await admin("GET", "/v1/admin/webhooks/failed?limit=abc")).status, 400);
    receiver.fallback = { status: 204 };
    const some = await admin("POST", "/v1/admin/webhooks/failed/retry", { ids: [`msg_${a.id}`] });
    assert.deepEqual(some.body, { retried: 1 });
    await receiver.waitForIds(1);
    assert.ok(receiver.delivered.has(`msg_${a.id}`));
    const rest = await admin("POST", "/v1/admin/webhooks/failed/retry", {});
    assert.deepEqual(rest.body, { retried: 1 });
    await receiver.waitForIds(2);
    assert.deepEqual((await admin("GET", "/v1/admin/webhooks/failed")).body, { failed: [] });
  });
});

describe("webhook filter", () => {
  it("sends nothing for a type DUET_WEBHOOK_EVENTS leaves out, and writes nothing to the outbox", async () => {
    const receiver = await startReceiver();
    const server = await startDuet({
      DUET_WEBHOOK_URL: receiver.url,
      DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
      DUET_WEBHOOK_EVENTS: "user.erased",
    });
    try {
      await send(server, "ivy", "jon", "quiet");
      await sleep(500);
      assert.equal(receiver.received.length, 0);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /duet_outbox_depth\{state="pending"\} 0/);
    } finally {
      await server.close();
      await receiver.close();
    }
  });
});

describe("durability: the server is SIGKILLed while the receiver is down", () => {
  it("delivers every accepted message's webhook once both are back", async () => {
    const port = await freePort();
    const store = tempDbUrl();
    const env = {
      DUET_STORE: store,
      DUET_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`,
      DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
      DUET_WEBHOOK_EVENTS: "message.created",
    };
    const first = await spawnDuet(env);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await send(first, "kim", "lee", `accepted ${i}`)).id);
    assert.equal(await first.kill("SIGKILL"), "SIGKILL");
    const receiver = await startReceiver(port);
    const second = await spawnDuet(env);
    try {
      const delivered = await receiver.waitForIds(20, 30_000);
      assert.deepEqual([...delivered].sort(), ids.map((id) => `msg_${id}`).sort());
      assert.ok(receiver.received.every((r) => r.verified));
    } finally {
      await second.kill();
      await receiver.close();
    }
  });
});
