/**
 * SPEC section 14 with several processes on Redis: an outbox entry is delivered by one process at
 * a time, and when that process dies mid-delivery (kill -9) its lease runs out and another delivers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { api, spawnDuet, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { startReceiver, WEBHOOK_SECRET } from "../helpers/webhook-receiver.js";

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(stopAllRedis);

describe("outbox leases across processes (Redis)", () => {
  it("a process killed mid-delivery loses its lease and another process delivers the webhook", async () => {
    const receiver = await startReceiver();
    // The first attempt hangs: the process delivering it is killed while it waits.
    receiver.script = ["hang"];
    const env = {
      DUET_STORE: redis.url,
      DUET_WEBHOOK_URL: receiver.url,
      DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
      DUET_WEBHOOK_EVENTS: "message.created",
      DUET_OUTBOX_LEASE_MS: "8000",
    };
    const a = await spawnDuet(env);
    let b: Awaited<ReturnType<typeof spawnDuet>> | undefined;
    try {
      const sent = await api(a.url, await tokenFor("alice"), "POST", "/v1/messages", {
        to: "bob",
        text: "lease",
      });
      assert.equal(sent.status, 201);
      const id = `msg_${(sent.body.message as { id: string }).id}`;
      const first = at(await receiver.waitFor(1), 0);
      assert.equal(first.id, id);
      b = await spawnDuet(env);
      const killedAt = Date.now();
      assert.equal(await a.kill("SIGKILL"), "SIGKILL");
      const delivered = await receiver.waitForIds(1, 30_000);
      assert.deepEqual([...delivered], [id]);
      assert.equal(receiver.received.length, 2, "one attempt per lease: B waited for A's to run out");
      const second = at(receiver.received, 1);
      assert.equal(second.id, id);
      assert.ok(second.verified);
      // B took it over only once A's lease (8 s from A's claim, made a little before the request
      // reached the receiver: several seconds on a machine under heavy load) had run out.
      assert.ok(second.at - first.at >= 4000, `${second.at - first.at} ms`);
      assert.ok(second.at >= killedAt - 1000);
    } finally {
      await a.kill("SIGKILL");
      await b?.kill();
      await receiver.close();
    }
  });
});
