/** SPEC section 7 (the server API, DUET_API_KEY) and dev mode (section 2). */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeJwt } from "jose";
import WebSocket from "ws";
import type { Message } from "../../src/core/types.js";
import { API_KEY, api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { client, expectError, names, openStream, waitFor } from "./util.js";

let server: TestServer;
let base: string;
const admin = (method: string, path: string, body?: unknown) => api(base, API_KEY, method, path, body);

before(async () => {
  server = await startDuet();
  base = server.url;
});
after(async () => {
  await server.close();
});

describe("POST /v1/admin/messages", () => {
  it("stores a system message from `system`, or from `from`", async () => {
    const [b, c] = names("bob", "carol");
    const r = await admin("POST", "/v1/admin/messages", { to: b, text: "Welcome!" });
    assert.equal(r.status, 201);
    const m = r.body.message as Message;
    assert.equal(m.kind, "system");
    assert.equal(m.from, "system");
    assert.equal(m.to, b);
    assert.equal(m.text, "Welcome!");
    assert.match(m.id, /^[0-9A-Z]{26}$/);

    const fromCarol = await admin("POST", "/v1/admin/messages", { to: b, text: "You matched!", from: c });
    assert.equal(fromCarol.status, 201);
    const m2 = fromCarol.body.message as Message;
    assert.equal(m2.kind, "system");
    assert.equal(m2.from, c);

    // Both sides see it in their conversation, and it counts as unread for the recipient.
    const bob = await client(base, b);
    const carol = await client(base, c);
    const history = await carol.call("GET", `/v1/conversations/${b}/messages`);
    assert.deepEqual(history.body.messages, [m2]);
    const convs = (await bob.call("GET", "/v1/conversations")).body.conversations as {
      peer: string;
      unread: number;
    }[];
    assert.deepEqual(
      convs.map((x) => [x.peer, x.unread]).sort(),
      [
        [c, 1],
        ["system", 1],
      ].sort(),
    );
  });

  it("is idempotent by clientMsgId and validates its body", async () => {
    const [b] = names("bob");
    const first = await admin("POST", "/v1/admin/messages", { to: b, text: "x", clientMsgId: "sys-1" });
    assert.equal(first.status, 201);
    const again = await admin("POST", "/v1/admin/messages", { to: b, text: "x", clientMsgId: "sys-1" });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.message, first.body.message);
    for (const body of [
      {},
      { to: b },
      { to: b, text: "" },
      { to: b, text: "x".repeat(4001) },
      { to: "bad id", text: "x" },
      { to: b, text: "x", from: b },
      { to: b, text: "x", from: "bad/id" },
      { to: b, text: "x", kind: "text" },
      { to: b, text: "x", image: { url: "https://x.example/a.png" } },
      [b, "x"],
    ]) {
      expectError(await admin("POST", "/v1/admin/messages", body), 400);
    }
  });
});

describe("POST /v1/admin/tokens", () => {
  it("mints a token with ttlSeconds that then works on the user API", async () => {
    const [d, e] = names("dave", "erin");
    const r = await admin("POST", "/v1/admin/tokens", { user: d, ttlSeconds: 120 });
    assert.equal(r.status, 201);
    assert.equal(r.body.user, d);
    const token = r.body.token as string;
    const claims = decodeJwt(token);
    assert.equal(claims.sub, d);
    assert.equal(typeof claims.exp, "number");
    assert.equal(typeof claims.iat, "number");
    assert.equal(claims.exp! - claims.iat!, 120);
    assert.equal(r.body.expiresAt, claims.exp! * 1000);

    const sent = await api(base, token, "POST", "/v1/messages", { to: e, text: "minted" });
    assert.equal(sent.status, 201);
    assert.equal((sent.body.message as Message).from, d);
    assert.equal((await api(base, token, "GET", "/v1/conversations")).status, 200);
  });

  it("defaults to a one-hour token", async () => {
    const [d] = names("dave");
    const r = await admin("POST", "/v1/admin/tokens", { user: d });
    assert.equal(r.status, 201);
    const claims = decodeJwt(r.body.token as string);
    assert.equal(claims.exp! - claims.iat!, 3600);
  });

  it("validates user and ttlSeconds", async () => {
    for (const body of [
      {},
      { user: "" },
      { user: "bad id" },
      { user: "x".repeat(65) },
      { user: "dave", ttlSeconds: 0 },
      { user: "dave", ttlSeconds: -5 },
      { user: "dave", ttlSeconds: 1.5 },
      { user: "dave", ttlSeconds: "60" },
      { user: "dave", ttlSeconds: 30 * 86_400 + 1 },
      { user: "dave", ttlSeconds: 1e308 },
      { user: "dave", admin: true },
    ]) {
      expectError(await admin("POST", "/v1/admin/tokens", body), 400, "invalid_input");
    }
  });
});

describe("POST /v1/admin/users/:user/disconnect", () => {
  it("closes every open connection of the user, and only theirs", async () => {
    const [b, c] = names("bob", "carol");
    const bob = await client(base, b);
    const carol = await client(base, c);
    const stream = await openStream(base, bob.token);
    await stream.next((e) => e.type === "hello");
    const carolStream = await openStream(base, carol.token);
    await carolStream.next((e) => e.type === "hello");

    const sse = await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${bob.token}` } });
    assert.equal(sse.status, 200);
    const sseDone = (async () => {
      // Reads until the server ends the response.
      for await (const _chunk of sse.body!) {
        // events
      }
    })();

    const ws = new WebSocket(`${base.replace("http", "ws")}/v1/ws?token=${bob.token}`);
    const wsClosed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      ws.once("message", () => resolve());
      ws.once("error", reject);
    });

    await waitFor("bob's 3 connections", async () => {
      const stats = await admin("GET", "/v1/admin/stats");
      const conns = stats.body.connections as Record<string, number | undefined>;
      return (conns.ws ?? 0) >= 1 && (conns.sse ?? 0) >= 1 && (conns.stream ?? 0) >= 2;
    });

    const r = await admin("POST", `/v1/admin/users/${b}/disconnect`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { ok: true });
    assert.equal(await wsClosed, 4010);
    await stream.ended;
    await sseDone;

    // Carol's stream is still open and live.
    const [d] = names("dave");
    const dave = await client(base, d);
    await dave.send(c, "still here");
    const event = await carolStream.next((e) => e.type === "message");
    assert.equal((event.message as Message).text, "still here");
    carolStream.close();
  });

  it("answers 200 for a user with no connections and 400 for a bad id", async () => {
    const [x] = names("nobody");
    assert.equal((await admin("POST", `/v1/admin/users/${x}/disconnect`)).status, 200);
    expectError(await admin("POST", "/v1/admin/users/bad%20id/disconnect"), 400, "invalid_input");
  });
});

describe("GET /v1/admin/stats", () => {
  it("reports connections by transport, messages stored and nodes", async () => {
    const r = await admin("GET", "/v1/admin/stats");
    assert.equal(r.status, 200);
    const conns = r.body.connections as Record<string, number>;
    assert.deepEqual(Object.keys(conns).sort(), ["poll", "sse", "stream", "ws"]);
    for (const n of Object.values(conns)) assert.ok(Number.isInteger(n) && n >= 0);
    assert.equal(typeof r.body.messages, "number");
    const nodes = r.body.nodes as { id: string }[];
    assert.ok(Array.isArray(nodes) && nodes.length === 1);
    assert.equal(typeof at(nodes, 0).id, "string");

    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    await alice.send(b, "one");
    await alice.send(b, "two");
    const later = await admin("GET", "/v1/admin/stats");
    assert.equal(later.body.messages, (r.body.messages as number) + 2);

    const stream = await openStream(base, alice.token);
    await stream.next((e) => e.type === "hello");
    const withStream = await admin("GET", "/v1/admin/stats");
    assert.equal(
      (withStream.body.connections as { stream: number }).stream,
      (later.body.connections as { stream: number }).stream + 1,
    );
    stream.close();
  });
});

describe("the API key", () => {
  const endpoints = [
    ["POST", "/v1/admin/messages", { to: "bob", text: "x" }],
    ["POST", "/v1/admin/tokens", { user: "bob" }],
    ["POST", "/v1/admin/users/bob/disconnect", undefined],
    ["GET", "/v1/admin/stats", undefined],
  ] as const;

  it("is required: 401 without it, with a wrong one, or with a user token", async () => {
    const userToken = await tokenFor("alice");
    const before = (await admin("GET", "/v1/admin/stats")).body.messages;
    for (const [method, path, body] of endpoints) {
      for (const key of [null, "wrong-key", `${API_KEY}x`, API_KEY.slice(0, -1), userToken]) {
        expectError(await api(base, key, method, path, body), 401, "unauthorized");
      }
      const basic = await fetch(base + path, {
        method,
        headers: { authorization: `Basic ${Buffer.from(`x:${API_KEY}`).toString("base64")}` },
      });
      expectError({ status: basic.status, body: (await basic.json()) as Record<string, unknown> }, 401);
    }
    assert.equal((await admin("GET", "/v1/admin/stats")).body.messages, before);
  });

  it("unset: the server API does not exist (404)", async () => {
    const closed = await startDuet({ DUET_API_KEY: "" });
    try {
      for (const [method, path, body] of endpoints) {
        for (const key of [null, API_KEY, ""]) {
          expectError(await api(closed.url, key, method, path, body), 404, "not_found");
        }
      }
    } finally {
      await closed.close();
    }
  });
});

describe("dev mode", () => {
  it("outside dev mode there is no /v1/dev/token and no demo page", async () => {
    expectError(await api(base, null, "POST", "/v1/dev/token", { user: "alice" }), 404, "not_found");
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 404);
    await page.arrayBuffer();
    assert.equal(await fetch(`${base}/index.html`).then((r) => r.status), 404);
  });

  it("with DUET_DEV=1: mints tokens at /v1/dev/token and serves the demo at /", async () => {
    // No secret configured: dev mode makes up its own.
    const dev = await startDuet({ DUET_DEV: "1", DUET_JWT_SECRET: "" });
    try {
      const [a, b] = names("alice", "bob");
      const r = await api(dev.url, null, "POST", "/v1/dev/token", { user: a });
      assert.equal(r.status, 201);
      const token = r.body.token as string;
      assert.equal(decodeJwt(token).sub, a);
      const sent = await api(dev.url, token, "POST", "/v1/messages", { to: b, text: "dev" });
      assert.equal(sent.status, 201);
      // The random secret is not the test secret.
      expectError(await api(dev.url, await tokenFor(a), "GET", "/v1/conversations"), 401, "unauthorized");
      expectError(
        await api(dev.url, null, "POST", "/v1/dev/token", { user: "bad id" }),
        400,
        "invalid_input",
      );
      expectError(await api(dev.url, null, "POST", "/v1/dev/token", "{"), 400, "invalid_json");

      const page = await fetch(`${dev.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(await page.text(), /^<!doctype html>/i);
      for (const path of ["/..%2Fpackage.json", "/%2e%2e%2fpackage.json", "/nope.html", "/package.json"]) {
        const res = await fetch(dev.url + path);
        assert.equal(res.status, 404, path);
        await res.arrayBuffer();
      }
    } finally {
      await dev.close();
    }
  });

  it("dev mode listens on 127.0.0.1 unless told otherwise", async () => {
    const dev = await startDuet({ DUET_DEV: "1", DUET_HOST: "" });
    try {
      assert.match(dev.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await dev.close();
    }
  });
});
