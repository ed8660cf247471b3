/** SPEC section 12, bans: through the server API, on every transport and process, stored. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { API_KEY, api, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { client, expectError, names, openStream, waitFor } from "./util.js";

let server: TestServer;
before(async () => {
  server = await startDuet();
});
after(async () => {
  await server.close();
  await stopAllRedis();
});

const admin = (s: TestServer, method: string, path: string, body?: unknown) =>
  api(s.url, API_KEY, method, path, body);

/** An open WebSocket of `token`, once its hello arrived, and its close code when it closes. */
async function openWs(base: string, token: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(`${base.replace("http", "ws")}/v1/ws?token=${token}`);
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once("message", () => resolve());
    ws.once("error", reject);
  });
  return { ws, closed };
}

/** The status a WebSocket upgrade is refused with. */
function wsRefusal(base: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace("http", "ws")}/v1/ws?token=${token}`);
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on("open", () => reject(new Error("the upgrade was accepted")));
    ws.on("error", () => {});
  });
}

describe("bans", () => {
  it("closes every live connection (WebSocket 4004, streams end) and refuses the token until lifted", async () => {
    const [m, b] = names("mallory", "bob");
    const mallory = await client(server.url, m);
    await mallory.send(b, "before the ban");
    const { closed } = await openWs(server.url, mallory.token);
    const stream = await openStream(server.url, mallory.token);
    await stream.next((e) => e.type === "hello");
    const r = await admin(server, "PUT", `/v1/admin/users/${m}/ban`, { reason: "scam" });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { user: m, banned: { reason: "scam", until: null } });
    assert.equal(await closed, 4004);
    await stream.ended;
    expectError(await mallory.call("POST", "/v1/messages", { to: b, text: "x" }), 401, "user_banned");
    expectError(await mallory.call("GET", "/v1/conversations"), 401, "user_banned");
    expectError(await api(server.url, mallory.token, "GET", "/v1/poll?timeout=0"), 401, "user_banned");
    // A fresh token is refused too: the ban is on the user.
    expectError(await api(server.url, await tokenFor(m), "GET", "/v1/conversations"), 401, "user_banned");
    assert.equal(await wsRefusal(server.url, mallory.token), 401);
    assert.deepEqual((await admin(server, "GET", `/v1/admin/users/${m}`)).body, {
      user: m,
      banned: { reason: "scam", until: null },
    });
    // Their messages stay (reports need them).
    const bob = await client(server.url, b);
    assert.equal(
      ((await bob.call("GET", `/v1/conversations/${m}/messages`)).body.messages as unknown[]).length,
      1,
    );
    assert.deepEqual((await admin(server, "DELETE", `/v1/admin/users/${m}/ban`)).body, {
      user: m,
      banned: null,
    });
    assert.equal((await mallory.call("GET", "/v1/conversations")).status, 200);
    assert.deepEqual((await admin(server, "GET", `/v1/admin/users/${m}`)).body, { user: m, banned: null });
  });

  it("drops the user's pending notifications", async () => {
    const [m] = names("mallory");
    const dropped: (string | undefined)[][] = [];
    const original = server.chat.dropPendingNotifications;
    server.chat.dropPendingNotifications = async (user, peer) => {
      dropped.push([user, peer]);
    };
    try {
      assert.equal((await admin(server, "PUT", `/v1/admin/users/${m}/ban`)).status, 200);
      assert.deepEqual(dropped, [[m, undefined]]);
    } finally {
      server.chat.dropPendingNotifications = original;
    }
  });

  it("ends at `until`", async () => {
    const [m] = names("temp");
    const mallory = await client(server.url, m);
    const until = Date.now() + 400;
    assert.equal((await admin(server, "PUT", `/v1/admin/users/${m}/ban`, { until })).status, 200);
    expectError(await mallory.call("GET", "/v1/conversations"), 401, "user_banned");
    await waitFor(
      "the ban to end",
      async () => (await mallory.call("GET", "/v1/conversations")).status === 200,
    );
    assert.ok(Date.now() >= until);
    assert.deepEqual((await admin(server, "GET", `/v1/admin/users/${m}`)).body.banned, null);
  });

  it("refuses bad input and changes nothing", async () => {
    const [m] = names("mallory");
    for (const body of [
      { reason: "" },
      { reason: "x".repeat(501) },
      { reason: "tab\there" },
      { reason: 5 },
      { until: Date.now() - 1000 },
      { until: "tomorrow" },
      { until: 1.5 },
      { until: 9e15 },
      { why: "x" },
      [],
    ]) {
      expectError(await admin(server, "PUT", `/v1/admin/users/${m}/ban`, body), 400);
    }
    expectError(await admin(server, "PUT", `/v1/admin/users/${m}/ban`, "{"), 400, "invalid_json");
    expectError(await admin(server, "PUT", "/v1/admin/users/bad%2Fid/ban"), 400, "invalid_input");
    expectError(await admin(server, "GET", "/v1/admin/users/%00"), 400, "invalid_input");
    expectError(await api(server.url, null, "PUT", `/v1/admin/users/${m}/ban`), 401, "unauthorized");
    expectError(
      await api(server.url, await tokenFor(m), "PUT", `/v1/admin/users/${m}/ban`),
      401,
      "unauthorized",
    );
    assert.deepEqual((await admin(server, "GET", `/v1/admin/users/${m}`)).body, { user: m, banned: null });
  });

  it("survives a restart", async () => {
    const store = tempDbUrl();
    const first = await startDuet({ DUET_STORE: store });
    const [m] = names("mallory");
    await admin(first, "PUT", `/v1/admin/users/${m}/ban`);
    await first.close();
    const second = await startDuet({ DUET_STORE: store });
    try {
      expectError(await api(second.url, await tokenFor(m), "GET", "/v1/conversations"), 401, "user_banned");
    } finally {
      await second.close();
    }
  });

  it("on Redis, closes the user's connections on every process and holds there", async () => {
    const redis = await startRedis();
    const env = { DUET_STORE: redis.url, DUET_BAN_REFRESH_MS: "200" };
    const [p1, p2] = await Promise.all([startDuet(env), startDuet(env)]);
    try {
      const [m] = names("mallory");
      const token = await tokenFor(m);
      const sockets = await Promise.all([
        openWs(p1.url, token),
        openWs(p2.url, token),
        openWs(p2.url, token),
      ]);
      const stream = await openStream(p2.url, token);
      await stream.next((e) => e.type === "hello");
      assert.equal((await admin(p1, "PUT", `/v1/admin/users/${m}/ban`, { reason: "spam" })).status, 200);
      assert.deepEqual(await Promise.all(sockets.map((s) => s.closed)), [4004, 4004, 4004]);
      await stream.ended;
      expectError(await api(p1.url, token, "GET", "/v1/conversations"), 401, "user_banned");
      // The other process refuses within its refresh interval.
      await waitFor(
        "p2 to refuse",
        async () => (await api(p2.url, token, "GET", "/v1/conversations")).status === 401,
      );
      assert.deepEqual((await admin(p2, "GET", `/v1/admin/users/${m}`)).body.banned, {
        reason: "spam",
        until: null,
      });
      await admin(p2, "DELETE", `/v1/admin/users/${m}/ban`);
      await waitFor(
        "p1 to admit",
        async () => (await api(p1.url, token, "GET", "/v1/conversations")).status === 200,
      );
    } finally {
      await Promise.all([p1.close(), p2.close()]);
    }
  });
});
