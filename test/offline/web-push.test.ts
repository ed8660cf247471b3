/**
 * SPEC section 14, Web Push, end to end against a local HTTP server standing in for the push
 * service: it decrypts each push with the subscription's private key (RFC 8291, aes128gcm, written
 * here with node:crypto) and checks the VAPID JWT (RFC 8292) against the server's public key.
 */
import assert from "node:assert/strict";
import { createECDH, createPublicKey, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { jwtVerify } from "jose";
import webpush from "web-push";
import { api, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at, sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { decryptPush } from "../helpers/web-push-decrypt.js";

interface Push {
  path: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/** The push service: records each push; answers `status` (per path prefix). */
async function startPushService() {
  const pushes: Push[] = [];
  const statusFor = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      pushes.push({ path, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(statusFor.get(path) ?? 201);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, pushes, statusFor, close: () => new Promise((r) => server.close(r)) };
}

/** A browser's subscription: its P-256 key pair and auth secret. */
function browserSubscription(endpoint: string) {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    ecdh,
    auth,
    json: {
      endpoint,
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
      expirationTime: null,
    },
  };
}

/** Checks the VAPID Authorization header: `vapid t=<ES256 JWT>, k=<public key>`. */
async function checkVapid(push: Push, publicKey: string, audience: string) {
  const header = String(push.headers.authorization);
  const match = /^vapid t=([^,]+), k=(.+)$/.exec(header);
  assert.ok(match, header);
  assert.equal(match[2], publicKey);
  const raw = Buffer.from(publicKey, "base64url");
  const key = createPublicKey({
    key: {
      kty: "EC",
      crv: "P-256",
      x: raw.subarray(1, 33).toString("base64url"),
      y: raw.subarray(33).toString("base64url"),
    },
    format: "jwk",
  });
  const { payload, protectedHeader } = await jwtVerify(at(match, 1), key, { audience });
  assert.equal(protectedHeader.alg, "ES256");
  assert.equal(payload.sub, "mailto:ops@example.com");
  assert.ok(typeof payload.exp === "number" && payload.exp > Date.now() / 1000);
}

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(stopAllRedis);

for (const storeName of ["sqlite", "redis"] as const) {
  describe(`Web Push on ${storeName}`, () => {
    const vapid = webpush.generateVAPIDKeys();
    let service: Awaited<ReturnType<typeof startPushService>>;
    let server: TestServer;
    before(async () => {
      service = await startPushService();
      server = await startDuet({
        DUET_STORE: storeName === "sqlite" ? tempDbUrl() : redis.url,
        DUET_VAPID_PUBLIC_KEY: vapid.publicKey,
        DUET_VAPID_PRIVATE_KEY: vapid.privateKey,
        DUET_VAPID_SUBJECT: "mailto:ops@example.com",
        DUET_NOTIFY_DELAY_S: "1",
      });
    });
    after(async () => {
      await server.close();
      await service.close();
    });

    it("serves the VAPID key, stores subscriptions and pushes each notification encrypted", async () => {
      const key = await api(server.url, null, "GET", "/v1/push/vapid-key");
      assert.deepEqual(key.body, { publicKey: vapid.publicKey });
      const bob = await tokenFor("bob");
      const phone = browserSubscription(`${service.base}/push/bob-phone`);
      const laptop = browserSubscription(`${service.base}/push/bob-laptop`);
      assert.equal((await api(server.url, bob, "POST", "/v1/push/subscriptions", phone.json)).status, 201);
      assert.equal((await api(server.url, bob, "POST", "/v1/push/subscriptions", laptop.json)).status, 201);
      assert.equal((await api(server.url, bob, "POST", "/v1/push/subscriptions", laptop.json)).status, 200);
      const sent = await api(server.url, await tokenFor("alice"), "POST", "/v1/messages", {
        to: "bob",
        text: "hi bob",
      });
      assert.equal(sent.status, 201);
      for (let i = 0; i < 50 && service.pushes.length < 2; i++) await sleep(100);
      assert.equal(service.pushes.length, 2);
      for (const push of service.pushes) {
        const sub = push.path.endsWith("phone") ? phone : laptop;
        assert.equal(push.headers["content-encoding"], "aes128gcm");
        assert.ok(Number(push.headers.ttl) > 0);
        await checkVapid(push, vapid.publicKey, service.base);
        const payload = JSON.parse(decryptPush(push.body, sub.ecdh, sub.auth)) as Record<string, unknown>;
        assert.deepEqual(payload, {
          user: "bob",
          from: "alice",
          count: 1,
          unreadTotal: 1,
          lastMessage: { id: (sent.body.message as { id: string }).id, kind: "text", preview: "hi bob" },
        });
      }
    });

    it("deletes a subscription the push service answers 410 (or 404) for", async () => {
      service.pushes.length = 0;
      const carol = await tokenFor("carol");
      const gone = browserSubscription(`${service.base}/push/carol-gone`);
      const missing = browserSubscription(`${service.base}/push/carol-missing`);
      service.statusFor.set("/push/carol-gone", 410);
      service.statusFor.set("/push/carol-missing", 404);
      await api(server.url, carol, "POST", "/v1/push/subscriptions", gone.json);
      await api(server.url, carol, "POST", "/v1/push/subscriptions", missing.json);
      await api(server.url, await tokenFor("dan"), "POST", "/v1/messages", { to: "carol", text: "hello?" });
      for (let i = 0; i < 50 && service.pushes.length < 2; i++) await sleep(100);
      await sleep(300);
      assert.equal(service.pushes.length, 2, "tried once each, not retried");
      const del = await api(server.url, carol, "DELETE", "/v1/push/subscriptions", {
        endpoint: gone.json.endpoint,
      });
      assert.equal(del.status, 404, "already deleted");
    });

    it("refuses hostile subscriptions with 400, more than 10 with 409, and needs a token", async () => {
      const eve = await tokenFor("eve");
      const good = browserSubscription("https://push.example/eve").json;
      const bad: unknown[] = [
        { ...good, endpoint: "http://push.example/x" },
        { ...good, endpoint: "ftp://push.example/x" },
        { ...good, endpoint: `https://push.example/${"x".repeat(3000)}` },
        { ...good, endpoint: "https://user:pw@push.example/x" },
        { ...good, keys: { ...good.keys, p256dh: "short" } },
        { ...good, keys: { ...good.keys, auth: "!!" } },
        { ...good, keys: { ...good.keys, extra: 1 } },
        { ...good, extra: 1 },
        { ...good, expirationTime: "soon" },
        { endpoint: good.endpoint },
        [],
        "nope",
      ];
      for (const body of bad) {
        const r = await api(server.url, eve, "POST", "/v1/push/subscriptions", body);
        assert.equal(r.status, 400, JSON.stringify(body).slice(0, 100));
      }
      assert.equal((await api(server.url, null, "POST", "/v1/push/subscriptions", good)).status, 401);
      for (let i = 0; i < 10; i++) {
        const sub = browserSubscription(`https://push.example/eve/${i}`).json;
        assert.equal((await api(server.url, eve, "POST", "/v1/push/subscriptions", sub)).status, 201);
      }
      const eleventh = await api(server.url, eve, "POST", "/v1/push/subscriptions", good);
      assert.equal(eleventh.status, 409);
      const removed = await api(server.url, eve, "DELETE", "/v1/push/subscriptions", {
        endpoint: "https://push.example/eve/0",
      });
      assert.equal(removed.status, 200);
      assert.equal((await api(server.url, eve, "POST", "/v1/push/subscriptions", good)).status, 201);
      assert.equal(
        (await api(server.url, eve, "DELETE", "/v1/push/subscriptions", { endpoint: 5 })).status,
        400,
      );
    });
  });
}

describe("Web Push not configured", () => {
  it("answers 404 on its routes", async () => {
    const server = await startDuet();
    try {
      assert.equal((await api(server.url, null, "GET", "/v1/push/vapid-key")).status, 404);
    } finally {
      await server.close();
    }
  });
});
