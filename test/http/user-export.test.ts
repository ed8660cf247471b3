/**
 * SPEC 15: GET /v1/admin/users/:user/export on SQLite, Redis and Redis Cluster: the first line,
 * every record type with what it must (and must not) hold, hostile ids, who may call it; and
 * the streaming itself (backpressure, a client that goes away) on real sockets.
 */

import assert from "node:assert/strict";
import { createECDH, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import webpush from "web-push";
import { streamChunks } from "../../src/http/user-data-routes.js";
import { API_KEY, api, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import {
  type RedisCluster,
  type RedisServer,
  startRedis,
  startRedisCluster,
  stopAllRedis,
} from "../helpers/redis-server.js";
import { client, expectError, names } from "./util.js";

let redis: RedisServer;
let cluster: RedisCluster;
before(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster({ masters: 3 })]);
});
after(stopAllRedis);

type Record_ = { type: string } & Record<string, unknown>;

/** The export as text and as records (every line must be JSON). */
async function exportOf(base: string, user: string, key: string | null = API_KEY) {
  const res = await fetch(`${base}/v1/admin/users/${encodeURIComponent(user)}/export`, {
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
  });
  const text = await res.text();
  const records =
    res.status === 200
      ? text
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l) as Record_)
      : [];
  return { res, text, records };
}

function subscription() {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return {
    endpoint: `http://127.0.0.1:9/push/${randomBytes(6).toString("hex")}`,
    keys: {
      p256dh: ecdh.getPublicKey().toString("base64url"),
      auth: randomBytes(16).toString("base64url"),
    },
    expirationTime: null,
  };
}

for (const storeName of ["sqlite", "redis", "cluster"] as const) {
  describe(`export on ${storeName}`, () => {
    let server: TestServer;
    before(async () => {
      const vapid = webpush.generateVAPIDKeys();
      server = await startDuet({
        DUET_STORE: storeName === "sqlite" ? tempDbUrl() : storeName === "redis" ? redis.url : cluster.url,
        DUET_REDIS_PREFIX: `ex${Date.now()}:`,
        DUET_VAPID_PUBLIC_KEY: vapid.publicKey,
        DUET_VAPID_PRIVATE_KEY: vapid.privateKey,
        DUET_VAPID_SUBJECT: "mailto:ops@example.com",
        DUET_SEND_RATE: "10000",
        DUET_SEND_BURST: "10000",
      });
    });
    after(async () => {
      await server.close();
    });

    it("holds every record type, messages in their current state, no push keys", async () => {
      const [u, p1, p2, p3, other] = names("exu", "exp1", "exp2", "exp3", "exother");
      const me = await client(server.url, u);
      const peer1 = await client(server.url, p1);
      const peer2 = await client(server.url, p2);
      assert.equal((await api(server.url, API_KEY, "PUT", `/v1/admin/pairs/${u}/${p1}`)).status, 201);
      const sent: string[] = [];
      for (let i = 0; i < 25; i++) sent.push((await me.send(p1, `to p1 ${i}`)).id);
      sent.push((await peer1.send(u, "from p1")).id);
      const edited = await me.send(p2, "before the edit");
      assert.equal(
        (await me.call("PATCH", `/v1/messages/${edited.id}`, { text: "after the edit" })).status,
        200,
      );
      const unsent = await me.send(p2, "unsent text");
      assert.equal((await me.call("DELETE", `/v1/messages/${unsent.id}`)).status, 200);
      const fromP2 = await peer2.send(u, "hello from p2");
      assert.equal((await me.call("PUT", `/v1/messages/${fromP2.id}/reactions/❤️`)).status, 200);
      // Someone else's conversation: nowhere in the export.
      await peer2.send(other, "not yours");
      assert.equal((await me.call("PUT", `/v1/blocks/${p3}`)).status, 200);
      assert.equal((await me.call("PATCH", "/v1/settings", { typing: false })).status, 200);
      assert.equal((await me.call("PUT", `/v1/conversations/${p2}/mute`)).status, 200);
      const sub = subscription();
      assert.equal((await me.call("POST", "/v1/push/subscriptions", sub)).status, 201);
      const filed = await me.call("POST", "/v1/reports", { user: p2, reason: "spam" });
      assert.equal(filed.status, 201, JSON.stringify(filed.body));
      // A report about the user (filed by someone else) is not theirs to export.
      assert.equal((await peer2.call("POST", "/v1/reports", { user: u, reason: "spam" })).status, 201);

      const { res, text, records } = await exportOf(server.url, u);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/x-ndjson/);
      assert.ok(text.endsWith("\n"));
      const [first, ...rest] = records;
      assert.equal(first?.type, "export");
      assert.equal(first?.user, u);
      assert.ok(!Number.isNaN(Date.parse(String(first?.generatedAt))));
      assert.match(String(first?.version), /^\d+\.\d+\.\d+/);
      const byType = (type: string) => rest.filter((r) => r.type === type);
      assert.deepEqual([...new Set(rest.map((r) => r.type))].sort(), [
        "block",
        "message",
        "pair",
        "push_subscription",
        "report",
        "settings",
      ]);
      const [settings] = byType("settings");
      assert.ok(settings);
      assert.equal((settings.settings as { typing: boolean }).typing, false);
      assert.deepEqual(settings.mutes, [{ peer: p2, until: null }]);
      assert.deepEqual(
        byType("pair").map((r) => (r.pair as { users: string[] }).users),
        [[u, p1].sort()],
      );
      assert.deepEqual(byType("block"), [{ type: "block", blocked: p3 }]);
      assert.deepEqual(byType("push_subscription"), [{ type: "push_subscription", endpoint: sub.endpoint }]);
      assert.ok(!text.includes(sub.keys.auth) && !text.includes(sub.keys.p256dh));
      const reports = byType("report").map((r) => r.report as { reporter: string; user: string });
      assert.equal(reports.length, 1);
      assert.equal(reports[0]?.reporter, u);
      const messages = byType("message").map((r) => r.message as Record<string, unknown>);
      // 25 + 1 with p1, 3 with p2: each once, each conversation oldest first.
      assert.equal(messages.length, 29);
      assert.equal(new Set(messages.map((m) => m.id)).size, 29);
      for (const m of messages) assert.ok(m.from === u || m.to === u);
      const ids = messages.filter((m) => m.to === p1 || m.from === p1).map((m) => m.id);
      assert.deepEqual(ids, [...sent]);
      const byId = new Map(messages.map((m) => [m.id, m]));
      assert.equal(byId.get(edited.id)?.text, "after the edit");
      assert.equal(byId.get(unsent.id)?.kind, "deleted");
      assert.ok(!text.includes("unsent text") && !text.includes("before the edit"));
      assert.ok(JSON.stringify(byId.get(fromP2.id)).includes("❤️"));
      assert.ok(!text.includes("not yours"));
    });

    it("pages through conversations longer than a page", async () => {
      const [u, p] = names("exlong", "expeer");
      const me = await client(server.url, u);
      const n = 2345;
      for (let start = 0; start < n; start += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, n - start) }, (_, i) => me.send(p, `long ${start + i}`)),
        );
      }
      const { records } = await exportOf(server.url, u);
      const messages = records
        .filter((r) => r.type === "message")
        .map((r) => r.message as { id: string; text: string });
      assert.equal(messages.length, n);
      const ids = messages.map((m) => m.id);
      assert.deepEqual(ids, [...ids].sort());
      assert.equal(new Set(messages.map((m) => m.text)).size, n);
    });

    it("a user it knows nothing of: the first line only; bad ids: 400; no API key: 401", async () => {
      const { res, records } = await exportOf(server.url, "never-seen-anywhere");
      assert.equal(res.status, 200);
      assert.equal(records.length, 1);
      assert.equal(records[0]?.type, "export");
      for (const bad of ["a b", "x".repeat(200), "é", "a/b", "{u:x}"]) {
        const r = await api(server.url, API_KEY, "GET", `/v1/admin/users/${encodeURIComponent(bad)}/export`);
        expectError(r, bad === "a/b" ? r.status : 400);
        assert.ok(r.status === 400 || r.status === 404, `${bad}: ${r.status}`);
      }
      const [u] = names("exauth");
      await (await client(server.url, u)).send("someone", "secret stuff");
      // Neither no key nor a user's own token (for themselves or anyone) exports anything.
      expectError(await api(server.url, null, "GET", `/v1/admin/users/${u}/export`), 401, "unauthorized");
      const own = await api(server.url, await tokenFor(u), "GET", `/v1/admin/users/${u}/export`);
      expectError(own, 401, "unauthorized");
      assert.ok(!JSON.stringify(own.body).includes("secret stuff"));
    });
  });
}

describe("streamChunks", () => {
  /** A server streaming an endless generator; counts the chunks pulled from it. */
  async function endless() {
    let pulled = 0;
    let finished = false;
    const chunk = `${"x".repeat(16 * 1024 - 1)}\n`;
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      async function* gen() {
        try {
          for (;;) {
            pulled++;
            yield chunk;
            await new Promise((r) => setImmediate(r));
          }
        } finally {
          finished = true;
        }
      }
      void streamChunks(res, gen());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    return { server, port, pulled: () => pulled, finished: () => finished };
  }

  it("waits for the reader (backpressure) and stops once it is gone", async () => {
    const s = await endless();
    const socket = connect(s.port, "127.0.0.1");
    socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    // Read nothing: the socket buffers fill and the writer must wait.
    socket.pause();
    await sleep(1500);
    const held = s.pulled();
    await sleep(1000);
    // Kernel buffers plus node's high-water mark hold a few MB at most: far from unbounded.
    assert.ok(held < 1000, `pulled ${held} chunks of 16 KiB from a reader that reads nothing`);
    assert.equal(s.pulled(), held, "it kept pulling while the reader read nothing");
    socket.destroy();
    const deadline = Date.now() + 5000;
    while (!s.finished() && Date.now() < deadline) await sleep(20);
    assert.ok(s.finished(), "the generator was not closed after the client went away");
    const after = s.pulled();
    await sleep(300);
    assert.equal(s.pulled(), after);
    s.server.closeAllConnections();
    await new Promise((r) => s.server.close(r));
  });
});
