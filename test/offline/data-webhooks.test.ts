/**
 * SPEC 14 meets SPEC 11 and 15: the pair.unmatched webhook (server API and user unmatch, history
 * kept or deleted), signed and delivered from the outbox, on SQLite and Redis.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { API_KEY, api, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { type Received, type Receiver, startReceiver, WEBHOOK_SECRET } from "../helpers/webhook-receiver.js";

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(stopAllRedis);

for (const storeName of ["sqlite", "redis"] as const) {
  describe(`pair.unmatched webhook on ${storeName}`, () => {
    let receiver: Receiver;
    let server: TestServer;
    before(async () => {
      receiver = await startReceiver();
      server = await startDuet({
        DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
        DUET_PAIRS: "matched",
        DUET_STORE: storeName === "sqlite" ? tempDbUrl() : redis.url,
        DUET_WEBHOOK_URL: receiver.url,
      });
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });
    const of = (type: string, pred: (r: Received) => boolean = () => true) =>
      receiver.received.filter((r) => r.body.type === type && pred(r));
    const waitOf = async (type: string, pred: (r: Received) => boolean) => {
      const deadline = Date.now() + 20_000;
      while (of(type, pred).length === 0 && Date.now() < deadline) await sleep(50);
      return of(type, pred);
    };

    it("is sent once per unmatch, with the users sorted and historyDeleted as asked", async () => {
      const [a, b, c] = [`pu-z-${storeName}`, `pu-a-${storeName}`, `pu-m-${storeName}`];
      assert.equal((await api(server.url, API_KEY, "PUT", `/v1/admin/pairs/${a}/${b}`)).status, 201);
      assert.equal((await api(server.url, API_KEY, "PUT", `/v1/admin/pairs/${a}/${c}`)).status, 201);
      const ta = await tokenFor(a);
      assert.equal((await api(server.url, ta, "POST", "/v1/messages", { to: b, text: "hi" })).status, 201);
      // The server API, history kept; then a user's unmatch, history deleted.
      assert.equal(
        (await api(server.url, API_KEY, "DELETE", `/v1/admin/pairs/${a}/${b}?history=keep`)).status,
        200,
      );
      assert.equal((await api(server.url, ta, "DELETE", `/v1/pairs/${c}`)).status, 200);
      // A second unmatch of the same pair is a 404 and sends nothing.
      assert.equal((await api(server.url, ta, "DELETE", `/v1/pairs/${c}`)).status, 404);
      const kept = await waitOf("pair.unmatched", (r) => (r.body.data.users as string[]).includes(b));
      const gone = await waitOf("pair.unmatched", (r) => (r.body.data.users as string[]).includes(c));
      await sleep(500);
      assert.equal(kept.length, 1);
      assert.equal(gone.length, 1);
      const [k] = kept;
      const [g] = gone;
      assert.ok(k?.verified && g?.verified);
      assert.deepEqual(k?.body.data, { users: [b, a], historyDeleted: false });
      assert.deepEqual(g?.body.data, { users: [c, a], historyDeleted: true });
      assert.equal(of("pair.unmatched", (r) => (r.body.data.users as string[]).includes(c)).length, 1);
    });
  });
}
