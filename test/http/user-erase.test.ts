/**
 * SPEC 15: DELETE /v1/admin/users/:user on SQLite, Redis and Redis Cluster: what goes (texts
 * nowhere in the SQLite file or any Redis key), what stays (reports), who learns it (peers' pair
 * event, 4003 closes, webhooks), tokens before and after, repeats and hostile ids.
 */
import assert from "node:assert/strict";
import { createECDH, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import webPushKeys from "web-push";
import WebSocket from "ws";
import { API_KEY, api, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import {
  type RedisCluster,
  type RedisServer,
  startRedis,
  startRedisCluster,
  stopAllRedis,
} from "../helpers/redis-server.js";
import { redisHasNo, sqliteHasNo } from "../helpers/store-scan.js";
import { type Receiver, startReceiver, WEBHOOK_SECRET } from "../helpers/webhook-receiver.js";
import { client, expectError, names, openStream, waitFor } from "./util.js";

let redis: RedisServer;
let cluster: RedisCluster;
let receiver: Receiver;
before(async () => {
  [redis, cluster, receiver] = await Promise.all([
    startRedis(),
    startRedisCluster({ masters: 3 }),
    startReceiver(),
  ]);
});
after(async () => {
  await receiver.close();
  await stopAllRedis();
});

const admin = (s: TestServer, method: string, path: string, body?: unknown) =>
  api(s.url, API_KEY, method, path, body);

/** An open WebSocket of `token` once its hello arrived; its frames and its close code. */
async function openWs(base: string, token: string) {
  const ws = new WebSocket(`${base.replace("http", "ws")}/v1/ws?token=${token}`);
  const frames: Record<string, unknown>[] = [];
  ws.on("message", (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once("message", () => resolve());
    ws.once("error", reject);
  });
  return { ws, frames, closed };
}

function subscription() {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return {
    endpoint: `http://127.0.0.1:9/push/${randomBytes(6).toString("hex")}`,
    keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: randomBytes(16).toString("base64url") },
    expirationTime: null,
  };
}

for (const storeName of ["sqlite", "redis", "cluster"] as const) {
  describe(`erase on ${storeName}`, () => {
    let server: TestServer;
    let store = "";
    const nodeUrls = () =>
      storeName === "redis" ? [redis.url] : cluster.nodes.map((n) => `redis://${n.address}`);
    before(async () => {
      store = storeName === "sqlite" ? tempDbUrl() : storeName === "redis" ? redis.url : cluster.url;
      server = await startDuet({
        DUET_STORE: store,
        DUET_WEBHOOK_URL: receiver.url,
        DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
        DUET_WEBHOOK_EVENTS: "user.erased,pair.unmatched",
        DUET_SEND_RATE: "10000",
        DUET_SEND_BURST: "10000",
        ...(() => {
          const { generateVAPIDKeys } = webPushKeys;
          const vapid = generateVAPIDKeys();
          return {
            DUET_VAPID_PUBLIC_KEY: vapid.publicKey,
            DUET_VAPID_PRIVATE_KEY: vapid.privateKey,
            DUET_VAPID_SUBJECT: "mailto:ops@example.com",
          };
        })(),
      });
    });
    after(async () => {
      await server.close();
    });

    it("removes everything listed, keeps reports, tells peers, refuses old tokens only", async () => {
      const marker = `ZEBRA${randomBytes(6).toString("hex")}`;
      const [u, p1, p2, p3, b, x] = names("eru", "erp1", "erp2", "erp3", "erb", "erx");
      const me = await client(server.url, u);
      const peer1 = await client(server.url, p1);
      const peer2 = await client(server.url, p2);
      const peer3 = await client(server.url, p3);
      // A pair (matched), a conversation with no pair (open mode), one unmatched with history kept.
      assert.equal((await admin(server, "PUT", `/v1/admin/pairs/${u}/${p1}`)).status, 201);
      for (let i = 0; i < 30; i++) await (i % 2 ? peer1 : me).send(i % 2 ? u : p1, `${marker} p1 ${i}`);
      const edited = await me.send(p1, `${marker} to be edited`);
      assert.equal(
        (await me.call("PATCH", `/v1/messages/${edited.id}`, { text: `${marker} edited` })).status,
        200,
      );
      const reacted = await peer1.send(u, `${marker} reacted`);
      assert.equal((await me.call("PUT", `/v1/messages/${reacted.id}/reactions/👍`)).status, 200);
      await me.call("POST", `/v1/conversations/${p1}/read`, { upTo: reacted.id });
      await me.send(p2, "evidence one");
      await peer2.send(u, "evidence two");
      assert.equal((await admin(server, "PUT", `/v1/admin/pairs/${u}/${p3}`)).status, 201);
      await peer3.send(u, `${marker} p3 kept`);
      assert.equal((await admin(server, "DELETE", `/v1/admin/pairs/${u}/${p3}?history=keep`)).status, 200);
      // What is not theirs: stays.
      await peer2.send(x, "an unrelated conversation");
      assert.equal((await me.call("PUT", `/v1/blocks/${b}`)).status, 200);
      assert.equal((await me.call("PATCH", "/v1/settings", { presence: false })).status, 200);
      assert.equal((await me.call("PUT", `/v1/conversations/${p1}/mute`)).status, 200);
      assert.equal((await me.call("POST", "/v1/push/subscriptions", subscription())).status, 201);
      const filed = await me.call("POST", "/v1/reports", { user: p2, reason: "spam" });
      assert.equal(filed.status, 201);
      const about = await peer2.call("POST", "/v1/reports", { user: u, reason: "harassment" });
      assert.equal(about.status, 201);
      const live = await openWs(server.url, me.token);
      const stream = await openStream(server.url, me.token);
      await stream.next((e) => e.type === "hello");
      const peerWs = await openWs(server.url, peer1.token);
      const oldToken = me.token;
      // Each peer's cursor before the erase: a device resuming from it must see one `unmatched`
      // and no `matched` (open mode and kept-history conversations are not matched first).
      const cursorOf = async (c: typeof me) => {
        const events = (await c.call("GET", "/v1/poll?since=0&timeout=0")).body.events as { seq: number }[];
        return Math.max(0, ...events.map((e) => e.seq));
      };
      const cursors = [await cursorOf(peer1), await cursorOf(peer2), await cursorOf(peer3)];

      const r = await admin(server, "DELETE", `/v1/admin/users/${u}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // 32 with p1, 2 with p2, 1 with p3; three conversations.
      assert.deepEqual(r.body, { erased: { messages: 35, pairs: 3 } });
      assert.equal(await live.closed, 4003);
      await stream.ended;
      await waitFor("the peer's pair event", () =>
        peerWs.frames.some((f) => f.type === "pair" && f.peer === u && f.state === "unmatched"),
      );
      const pairEvent = peerWs.frames.find((f) => f.type === "pair" && f.state === "unmatched");
      assert.equal(pairEvent?.historyDeleted, true);
      peerWs.ws.close();
      for (const [i, peer] of [peer1, peer2, peer3].entries()) {
        const resumed = (await peer.call("GET", `/v1/poll?since=${cursors[i]}&timeout=0`)).body.events as {
          type: string;
          peer?: string;
          state?: string;
          historyDeleted?: boolean;
        }[];
        const pairEvents = resumed.filter((e) => e.type === "pair" && e.peer === u);
        assert.deepEqual(
          pairEvents.map((e) => [e.state, e.historyDeleted]),
          [["unmatched", true]],
          `peer ${i + 1} resuming: ${JSON.stringify(resumed).slice(0, 300)}`,
        );
      }

      // Tokens from before: refused everywhere; one issued after the erase is accepted.
      expectError(await api(server.url, oldToken, "GET", "/v1/conversations"), 401, "user_erased");
      expectError(await api(server.url, await tokenFor(u), "GET", "/v1/conversations"), 401, "user_erased");
      expectError(await api(server.url, oldToken, "GET", "/v1/poll?timeout=0"), 401, "user_erased");
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const minted = await admin(server, "POST", "/v1/admin/tokens", { user: u });
      const fresh = await api(server.url, minted.body.token as string, "GET", "/v1/conversations");
      assert.equal(fresh.status, 200);
      assert.deepEqual(fresh.body.conversations, []);

      // Peers: no conversation, no history, no unread; the unrelated conversation is whole.
      for (const peer of [peer1, peer2, peer3]) {
        const seen = JSON.stringify([
          (await peer.call("GET", "/v1/conversations")).body,
          (await peer.call("GET", `/v1/conversations/${u}/messages`)).body,
        ]);
        assert.ok(!seen.includes(marker) && !seen.includes("evidence"), seen.slice(0, 300));
        assert.ok(!seen.includes(`"peer":"${u}"`), seen.slice(0, 300));
      }
      assert.ok(JSON.stringify((await peer2.call("GET", "/v1/conversations")).body).includes(x));
      // The export has nothing left but the reports they filed.
      const exported = await fetch(`${server.url}/v1/admin/users/${u}/export`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      const types = (await exported.text())
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { type: string }).type);
      assert.deepEqual(types, ["export", "report"]);
      // Reports by and about them: kept until resolved.
      const open = JSON.stringify((await admin(server, "GET", "/v1/admin/reports?status=open")).body);
      assert.ok(open.includes((filed.body.report as { id: string }).id));
      assert.ok(open.includes((about.body.report as { id: string }).id));
      // Webhooks: user.erased with the counts, and the three pair.unmatched of the erase.
      await waitFor("user.erased", () =>
        receiver.received.some((w) => w.body.type === "user.erased" && w.body.data.user === u),
      );
      const erasedHook = receiver.received.find(
        (w) => w.body.type === "user.erased" && w.body.data.user === u,
      );
      assert.ok(erasedHook?.verified);
      assert.deepEqual(erasedHook?.body.data, { user: u, messages: 35, pairs: 3 });
      await waitFor("pair.unmatched", () =>
        [p1, p2].every((p) =>
          receiver.received.some(
            (w) => w.body.type === "pair.unmatched" && (w.body.data.users as string[]).includes(p),
          ),
        ),
      );

      // A repeat: nothing left, zero counts.
      assert.deepEqual((await admin(server, "DELETE", `/v1/admin/users/${u}`)).body, {
        erased: { messages: 0, pairs: 0 },
      });
      // The texts are nowhere in the store.
      if (storeName === "sqlite") {
        await server.close();
        sqliteHasNo(store, marker, "an unrelated conversation");
        server = await startDuet({ DUET_STORE: store });
      } else {
        await redisHasNo(nodeUrls(), marker, "an unrelated conversation");
      }
    });

    it("a user it never knew: zero counts; bad ids: 400; users cannot erase anyone", async () => {
      const r = await admin(server, "DELETE", "/v1/admin/users/never-seen-anyone");
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { erased: { messages: 0, pairs: 0 } });
      for (const bad of ["a b", "x".repeat(200), "é", "{u:x}", "a%00b"]) {
        expectError(await admin(server, "DELETE", `/v1/admin/users/${encodeURIComponent(bad)}`), 400);
      }
      expectError(await admin(server, "DELETE", "/v1/admin/users/system"), 400, "invalid_input");
      const [v, w] = names("victim", "attacker");
      const victim = await client(server.url, v);
      await victim.send(w, "still here");
      const attacker = await client(server.url, w);
      expectError(await attacker.call("DELETE", `/v1/admin/users/${v}`), 401, "unauthorized");
      expectError(await attacker.call("DELETE", `/v1/admin/users/${w}`), 401, "unauthorized");
      expectError(await api(server.url, null, "DELETE", `/v1/admin/users/${v}`), 401, "unauthorized");
      const history = await victim.call("GET", `/v1/conversations/${w}/messages`);
      assert.equal((history.body.messages as unknown[]).length, 1);
      assert.equal((await victim.call("GET", "/v1/conversations")).status, 200);
    });
  });
}

/**
 * Webhooks and pushes still waiting in the outbox, or failed, carry the user's texts (message
 * webhooks, notification previews): the erase removes them there too (src/core/outbox/erase-scrub.ts).
 * The receiver answers 500 and the push service is unreachable, so entries stay pending and failed.
 */
for (const storeName of ["sqlite", "redis"] as const) {
  describe(`erase scrubs the outbox on ${storeName}`, () => {
    let server: TestServer;
    let failing: Receiver;
    let store = "";
    before(async () => {
      failing = await startReceiver();
      failing.fallback = { status: 500 };
      store = storeName === "sqlite" ? tempDbUrl() : redis.url;
      const vapid = webPushKeys.generateVAPIDKeys();
      server = await startDuet({
        DUET_STORE: store,
        DUET_WEBHOOK_URL: failing.url,
        DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
        DUET_WEBHOOK_EVENTS: "message.created,message.updated,notification,pair.unmatched,user.erased",
        DUET_WEBHOOK_RETRY_S: "1",
        DUET_NOTIFY_DELAY_S: "1",
        DUET_NOTIFY_GROUP_S: "1",
        DUET_SEND_RATE: "10000",
        DUET_SEND_BURST: "10000",
        DUET_VAPID_PUBLIC_KEY: vapid.publicKey,
        DUET_VAPID_PRIVATE_KEY: vapid.privateKey,
        DUET_VAPID_SUBJECT: "mailto:ops@example.com",
      });
    });
    after(async () => {
      await server.close();
      await failing.close();
    });

    it("removes queued and failed webhooks and pushes with their texts; user.erased still goes", async () => {
      const marker = `OKAPI${randomBytes(6).toString("hex")}`;
      const [u, p, x, y] = names("obu", "obp", "obx", "oby");
      const me = await client(server.url, u);
      const peer = await client(server.url, p);
      const other = await client(server.url, x);
      for (const c of [me, peer])
        assert.equal((await c.call("POST", "/v1/push/subscriptions", subscription())).status, 201);
      await me.send(p, `${marker} from the user`);
      await peer.send(u, `${marker} to the user`);
      await other.send(y, "an unrelated conversation");
      const failed = async () =>
        JSON.stringify((await admin(server, "GET", "/v1/admin/webhooks/failed?limit=1000")).body);
      // Failed: the message webhooks, the notifications and the pushes, with their texts.
      await waitFor(
        "failed entries holding the texts",
        async () => {
          const list = await failed();
          return (
            ["message.created", "notification", "push"].every((t) => list.includes(`"type":"${t}"`)) &&
            list.includes(marker)
          );
        },
        20_000,
      );
      // And pending ones: just sent, not yet failed.
      await me.send(p, `${marker} queued`);
      const edited = await peer.send(u, `${marker} queued too`);
      assert.equal(
        (await peer.call("PATCH", `/v1/messages/${edited.id}`, { text: `${marker} edited` })).status,
        200,
      );

      const r = await admin(server, "DELETE", `/v1/admin/users/${u}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, { erased: { messages: 4, pairs: 1 } });
      assert.ok(!(await failed()).includes(marker), "the failed list holds no text of theirs");
      // The erase's own webhook still goes out once the receiver is back.
      const before = failing.received.length;
      failing.fallback = { status: 200 };
      await waitFor(
        "user.erased",
        () => failing.received.some((w) => w.body.type === "user.erased" && w.body.data.user === u),
        20_000,
      );
      assert.ok(
        failing.received.slice(before).every((w) => !w.raw.includes(marker)),
        "no webhook with their texts after the erase",
      );
      // A repeat finds nothing more to do, and the texts are nowhere in the store.
      assert.deepEqual((await admin(server, "DELETE", `/v1/admin/users/${u}`)).body, {
        erased: { messages: 0, pairs: 0 },
      });
      if (storeName === "sqlite") {
        await server.close();
        sqliteHasNo(store, marker, "an unrelated conversation");
        server = await startDuet({ DUET_STORE: store });
      } else {
        await redisHasNo([redis.url], marker, "an unrelated conversation");
      }
    });
  });
}
