/**
 * SPEC 13 meets SPEC 14: message.updated / message.deleted webhooks, no notification for a muted
 * conversation or a user with notifications off, and an unsent message's pending one dropped.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { api, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at, sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { type Received, type Receiver, startReceiver, WEBHOOK_SECRET } from "../helpers/webhook-receiver.js";

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(stopAllRedis);

for (const storeName of ["sqlite", "redis"] as const) {
  describe(`lifecycle webhooks and notifications on ${storeName}`, () => {
    let receiver: Receiver;
    let server: TestServer;
    before(async () => {
      receiver = await startReceiver();
      server = await startDuet({
        DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
        DUET_WEBHOOK_EVENTS: "notification,message.updated,message.deleted",
        DUET_NOTIFY_DELAY_S: "4",
        DUET_NOTIFY_GROUP_S: "3",
        DUET_STORE: storeName === "sqlite" ? tempDbUrl() : redis.url,
        DUET_WEBHOOK_URL: receiver.url,
      });
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    const call = async (user: string, method: string, path: string, body?: unknown) =>
      api(server.url, await tokenFor(user), method, path, body);
    const of = (type: string, pred: (r: Received) => boolean = () => true) =>
      receiver.received.filter((r) => r.body.type === type && pred(r));

    it("sends message.updated and message.deleted; drops the unsent message's notification", async () => {
      const sent = await call("lw-a", "POST", "/v1/messages", { to: "lw-b", text: "oops secret" });
      const id = (sent.body.message as { id: string }).id;
      assert.equal((await call("lw-a", "PATCH", `/v1/messages/${id}`, { text: "fixed" })).status, 200);
      assert.equal((await call("lw-a", "DELETE", `/v1/messages/${id}`)).status, 200);
      // The notification would be due 4 s after the send: wait past it (a loaded machine is slow).
      const deadline = Date.now() + 20_000;
      while (of("message.deleted").length === 0 && Date.now() < deadline) await sleep(100);
      await sleep(5000);
      const updated = of("message.updated");
      assert.equal(updated.length, 1);
      assert.ok(at(updated, 0).verified);
      assert.equal((at(updated, 0).body.data.message as { text: string }).text, "fixed");
      const deleted = of("message.deleted");
      assert.equal(deleted.length, 1);
      assert.deepEqual(Object.keys(at(deleted, 0).body.data.message as object).sort(), [
        "deletedAt",
        "from",
        "id",
        "kind",
        "to",
        "ts",
      ]);
      assert.deepEqual(
        of("notification", (r) => r.body.data.user === "lw-b"),
        [],
      );
    });

    it("notifies nobody who muted the conversation or turned notifications off", async () => {
      assert.equal((await call("lw-m", "PUT", "/v1/conversations/lw-s/mute")).status, 200);
      assert.equal((await call("lw-o", "PATCH", "/v1/settings", { notifications: false })).status, 200);
      await call("lw-s", "POST", "/v1/messages", { to: "lw-m", text: "muted" });
      await call("lw-s", "POST", "/v1/messages", { to: "lw-o", text: "off" });
      await call("lw-s", "POST", "/v1/messages", { to: "lw-n", text: "normal" });
      const deadline = Date.now() + 20_000;
      while (of("notification", (r) => r.body.data.user === "lw-n").length === 0 && Date.now() < deadline)
        await sleep(100);
      await sleep(1000);
      assert.equal(of("notification", (r) => r.body.data.user === "lw-n").length, 1);
      assert.deepEqual(
        of("notification", (r) => r.body.data.user === "lw-m"),
        [],
      );
      assert.deepEqual(
        of("notification", (r) => r.body.data.user === "lw-o"),
        [],
      );
    });
  });
}
