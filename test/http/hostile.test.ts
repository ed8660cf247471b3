/**
 * Issue 2, item 6: hostile input. Every request below must get a clear 4xx (never a 500, never a
 * crash), and afterwards the stored data must be exactly what it was before the barrage.
 */

import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Message } from "../../src/core/types.js";
import { API_KEY, api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { type Client, client, expectError, names, rawExchange, statusOf, waitFor } from "./util.js";

let server: TestServer;
let base: string;
let alice: Client;
let bob: Client;
let carol: Client;
let bobToCarol: Message;
let snapshotBefore: unknown;

const MB10 = 10 * 1024 * 1024;

/** Everything the API shows about the three users, plus the store's message count. */
async function snapshot(): Promise<unknown> {
  const people = [alice, bob, carol];
  const out: Record<string, unknown> = {};
  for (const me of people) {
    const view: Record<string, unknown> = {
      conversations: (await me.call("GET", "/v1/conversations?limit=200")).body,
      blocks: (await me.call("GET", "/v1/blocks")).body,
      events: (await me.call("GET", "/v1/poll?since=0&timeout=0")).body,
    };
    for (const peer of people) {
      if (peer === me) continue;
      view[`history:${peer.name}`] = (
        await me.call("GET", `/v1/conversations/${peer.name}/messages?limit=200`)
      ).body;
      view[`unread:${peer.name}`] = (
        await me.call("GET", `/v1/conversations/${peer.name}/unread?limit=200&markRead=false`)
      ).body;
    }
    out[me.name] = view;
  }
  out.messages = (await api(base, API_KEY, "GET", "/v1/admin/stats")).body.messages;
  return out;
}

/** A request as alice, with any body bytes and content type. */
async function raw(
  method: string,
  path: string,
  body?: string | Uint8Array,
  contentType: string | null = "application/json",
  token: string | null = alice.token,
) {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (contentType !== null && body !== undefined) headers["content-type"] = contentType;
  const res = await fetch(base + path, {
    method,
    headers,
    body: typeof body === "string" || body === undefined ? body : new Uint8Array(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed };
}

/** A 4xx with the error body of SPEC section 4. */
function expect4xx(r: { status: number; body: Record<string, unknown> }, what: string, code?: string): void {
  assert.ok(
    r.status >= 400 && r.status < 500,
    `${what}: got ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`,
  );
  expectError(r, r.status, code);
}

const POSTS = ["/v1/messages", "/v1/typing"];

before(async () => {
  server = await startDuet();
  base = server.url;
  const [a, b, c] = names("alice", "bob", "carol");
  alice = await client(base, a);
  bob = await client(base, b);
  carol = await client(base, c);
  POSTS.push(`/v1/conversations/${b}/read`);
  // Some history to protect: alice and bob talk, bob and carol talk, bob blocked someone.
  const m1 = await alice.send(b, "hello bob");
  await bob.send(a, "hi alice");
  await alice.send(b, "with a picture", { image: { url: "https://x.example/a.jpg" }, clientMsgId: "p1" });
  bobToCarol = await bob.send(c, "secret for carol");
  await carol.send(b, "secret for bob");
  await bob.call("POST", `/v1/conversations/${a}/read`, { upTo: m1.id });
  await bob.call("PUT", "/v1/blocks/mallory");
  snapshotBefore = await snapshot();
});
after(async () => {
  await server.close();
});

describe("hostile input gets a 4xx and changes nothing", () => {
  it("malformed JSON is 400 invalid_json", async () => {
    const bodies = [
      "{",
      '{"to":',
      "{'to':'bob','text':'x'}",
      `{"to":"${bob.name}","text":"x",}`,
      `{"to":"${bob.name}","text":"x"} trailing`,
      "undefined",
      "NaN",
      "nul",
      "\u0000",
      " ",
      "",
    ];
    for (const path of POSTS) {
      for (const body of bodies)
        expect4xx(await raw("POST", path, body), `${path} ${JSON.stringify(body)}`, "invalid_json");
    }
  });

  it("wrong types, missing fields, unknown fields and non-objects are 400 invalid_input", async () => {
    const b = bob.name;
    const bodies: unknown[] = [
      {},
      { text: "no recipient" },
      { to: b },
      { to: 42, text: "x" },
      { to: [b], text: "x" },
      { to: { id: b }, text: "x" },
      { to: b, text: 42 },
      { to: b, text: ["x"] },
      { to: b, text: { $gt: "" } },
      { to: b, text: "x", image: "https://x.example/a.png" },
      { to: b, text: "x", image: [] },
      { to: b, text: "x", links: "https://x.example" },
      { to: b, text: "x", links: {} },
      { to: b, text: "x", clientMsgId: {} },
      { to: b, text: "x", from: b },
      { to: b, text: "x", kind: "system" },
      { to: b, text: "x", id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" },
      { to: b, text: "x", ts: 0 },
      { to: b, text: "x", seq: 1 },
      { to: b, text: "\ud800 lone surrogate" },
      { to: `${b}\u0000`, text: "x" },
      { to: `${b}\n`, text: "x" },
      { to: "../../etc/passwd", text: "x" },
      { to: `${b} ${carol.name}`, text: "x" },
      { to: "x".repeat(100_00), text: "x" },
      [],
      [{ to: b, text: "x" }],
      "a string",
      42,
      true,
      null,
    ];
    for (const body of bodies) {
      expect4xx(
        await raw("POST", "/v1/messages", JSON.stringify(body)),
        JSON.stringify(body).slice(0, 80),
        "invalid_input",
      );
    }
    // Keys that would pollute prototypes are just unknown fields.
    for (const body of [
      `{"__proto__":{"to":"${b}"},"text":"x"}`,
      `{"to":"${b}","text":"x","__proto__":{"admin":true}}`,
      `{"to":"${b}","text":"x","constructor":{"prototype":{"admin":true}}}`,
    ]) {
      expect4xx(await raw("POST", "/v1/messages", body), body, "invalid_input");
    }
    assert.equal(({} as Record<string, unknown>).admin, undefined);
    assert.equal(({} as Record<string, unknown>).to, undefined);
    // Deep nesting is just a non-object.
    expect4xx(
      await raw("POST", "/v1/messages", `${"[".repeat(30_000)}${"]".repeat(30_000)}`),
      "deep",
      "invalid_input",
    );
    for (const body of [{}, { to: 5 }, { to: b, extra: 1 }, [b], null]) {
      expect4xx(await raw("POST", "/v1/typing", JSON.stringify(body)), `typing ${JSON.stringify(body)}`);
      expect4xx(
        await raw("POST", `/v1/conversations/${b}/read`, JSON.stringify(body)),
        `read ${JSON.stringify(body)}`,
      );
    }
  });

  it("a wrong content type is 415", async () => {
    const body = JSON.stringify({ to: bob.name, text: "x" });
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonp",
      "application/json-patch",
      "text/json",
      "application/xml",
      "",
    ]) {
      for (const path of POSTS) {
        expect4xx(await raw("POST", path, body, type), `${path} ${type}`, "unsupported_media_type");
      }
    }
  });

  it("bad UTF-8 is 400 invalid_utf8", async () => {
    const prefix = Buffer.from(`{"to":"${bob.name}","text":"`);
    const suffix = Buffer.from('"}');
    for (const bad of [
      [0xff],
      [0xc0, 0xaf], // overlong "/"
      [0xe0, 0x80, 0xaf], // overlong
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0xe2, 0x82], // truncated
      [0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    ]) {
      const body = Buffer.concat([prefix, Buffer.from(bad), suffix]);
      expect4xx(await raw("POST", "/v1/messages", body), `bytes ${bad}`, "invalid_utf8");
    }
  });

  it("a 10 MB body is 413 and the server stays up", async () => {
    const huge = JSON.stringify({ to: bob.name, text: "x".repeat(MB10) });
    const r = await raw("POST", "/v1/messages", huge);
    expect4xx(r, "10 MB", "payload_too_large");
    assert.equal(r.status, 413);
    // The same through a raw socket with Content-Length, the server answering before it has it all.
    const chunk = Buffer.alloc(64 * 1024, "x".charCodeAt(0));
    const chunks = Array.from({ length: MB10 / chunk.length }, () => chunk);
    const declared = await rawExchange(
      server.port,
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\nContent-Type: application/json\r\nContent-Length: ${MB10}\r\n\r\n`,
      chunks,
    );
    assert.equal(statusOf(declared.response), 413, declared.response.slice(0, 200));
    assert.match(declared.response, /"payload_too_large"/);
    // Just over the limit is refused too, just under is fine as far as size goes.
    const limit = server.config.bodyLimit;
    const over = JSON.stringify({ to: bob.name, text: "x".repeat(limit) });
    expect4xx(await raw("POST", "/v1/messages", over), "limit+", "payload_too_large");
    assert.equal((await api(base, null, "GET", "/healthz")).status, 200);
  });

  it("a chunked body over the limit is 413", async () => {
    const piece = Buffer.alloc(256 * 1024, "y".charCodeAt(0));
    const framed = Buffer.concat([
      Buffer.from(`${piece.length.toString(16)}\r\n`),
      piece,
      Buffer.from("\r\n"),
    ]);
    const chunks = Array.from({ length: 40 }, () => framed);
    const r = await rawExchange(
      server.port,
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      chunks,
    );
    assert.equal(statusOf(r.response), 413, r.response.slice(0, 200));
    assert.match(r.response, /"payload_too_large"/);
    // And with fetch streaming a body of unknown length.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(piece);
        controller.close();
      },
    });
    const res = await fetch(`${base}/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit).catch((err: Error) => err);
    if (res instanceof Error) {
      // undici may lose the answer when the server stops reading mid-upload; the server must live on.
      assert.match(String(res.cause ?? res), /socket|reset|closed|EPIPE|other side/i);
    } else {
      assert.equal(res.status, 413);
      await res.arrayBuffer();
    }
    assert.equal((await api(base, null, "GET", "/healthz")).status, 200);
  });

  it("a client that goes away mid-body is not an internal error", async () => {
    const invalidCount = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(/^duet_errors_total\{code="invalid_input"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const before = await invalidCount();
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    socket.write(
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"to":"`,
      // The bytes sent arrive before the close: the server has a request whose body never ends.
      () => socket.destroy(),
    );
    await waitFor("the cut-off body to be counted", async () => (await invalidCount()) > before);
    assert.equal((await api(base, null, "GET", "/healthz")).status, 200);
  });

  it("hostile ids in paths are 4xx", async () => {
    const ids = [
      "..",
      "../bob",
      "..%2F..%2Fetc%2Fpasswd",
      "%2e%2e%2f",
      "%2e%2e",
      "%2E%2E%2F%2E%2E%2F",
      `${bob.name}%00`,
      `${bob.name}%0d%0aSet-Cookie:%20x=1`,
      "%01%02%03",
      "%7f",
      "%ff",
      "%",
      "%zz",
      "a%2Fb",
      `${bob.name}%20${carol.name}`,
      "x".repeat(65),
      "y".repeat(10_000),
      "%F0%9F%98%80",
      "%E2%80%AE",
    ];
    for (const id of ids) {
      const paths: [string, string, unknown?][] = [
        ["GET", `/v1/conversations/${id}/messages`],
        ["GET", `/v1/conversations/${id}/unread`],
        ["POST", `/v1/conversations/${id}/read`, { upTo: bobToCarol.id }],
        ["PUT", `/v1/blocks/${id}`],
        ["DELETE", `/v1/blocks/${id}`],
        ["GET", `/v1/presence?users=${id}`],
      ];
      for (const [method, path, body] of paths) {
        expect4xx(await alice.call(method, path, body), `${method} ${path.slice(0, 80)}`);
      }
      expect4xx(
        await api(base, API_KEY, "POST", `/v1/admin/users/${id}/disconnect`),
        `disconnect ${id.slice(0, 40)}`,
      );
    }
  });

  it("requests node's parser refuses get a JSON 400", async () => {
    const auth = `Authorization: Bearer ${alice.token}\r\n`;
    const post = `POST /v1/messages HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\n`;
    for (const head of [
      // Raw control characters and spaces in the request line never reach the router.
      `GET /v1/conversations/bo\u0001b/messages HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
      `GET /v1/conversations/bo\u0000b/messages HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
      `GET /v1/conversations/bo b/messages HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
      `GET /v1/conversations/bo\u007fb/messages HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
      // Framing that could smuggle a second request.
      `${post}Content-Length: abc\r\n\r\n{}`,
      `${post}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      `${post}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}`,
      `${post}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      `${auth}\r\n`,
      "GET /v1/blocks HTTP/9.9\r\nHost: x\r\n\r\n",
      `GET /v1/blocks HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n${auth}\r\n`,
      `GET /v1/blocks HTTP/1.1\r\nHost: x\r\nX-Ctl: a\u0001b\r\n${auth}\r\n`,
    ]) {
      const r = await rawExchange(server.port, head);
      assert.equal(
        statusOf(r.response),
        400,
        `${JSON.stringify(head.slice(0, 60))}: ${r.response.slice(0, 100)}`,
      );
      assert.match(r.response, /\{"error":\{"code":"invalid_input"/);
    }
  });

  it("10 MB paths, query strings and headers are 4xx", async () => {
    /** `start`, then 10 MB of `fill`, then `end`, sent in pieces the way a client would. */
    function* tenMegabytes(start: string, fill: string, end: string): Generator<Buffer> {
      yield Buffer.from(start);
      const piece = Buffer.from(fill.repeat(Math.ceil((64 * 1024) / fill.length)));
      for (let sent = 0; sent < MB10; sent += piece.length) yield piece;
      yield Buffer.from(end);
    }
    const cases: [string, string, string][] = [
      ["GET /v1/conversations/", "a", "/messages HTTP/1.1\r\nHost: x\r\n\r\n"],
      ["GET /v1/conversations?limit=", "9", " HTTP/1.1\r\nHost: x\r\n\r\n"],
      ["GET /v1/presence?users=", "a,", " HTTP/1.1\r\nHost: x\r\n\r\n"],
      ["GET /v1/blocks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ", "a", "\r\n\r\n"],
      ["GET /v1/blocks HTTP/1.1\r\nHost: x\r\nX-Junk: ", "j", "\r\n\r\n"],
      ["GET /v1/blocks HTTP/1.1\r\nHost: x\r\n", "X-Many: 1\r\n", "\r\n"],
    ];
    for (const [start, fill, end] of cases) {
      // The server answers once it has seen enough; the exchange stops sending then.
      const r = await rawExchange(server.port, "", tenMegabytes(start, fill, end));
      // 431, with the JSON error body every other error has.
      assert.equal(
        statusOf(r.response),
        431,
        `${start.slice(0, 40)}: ${r.response.slice(0, 100)} ${r.error ?? ""}`,
      );
      assert.match(r.response, /\{"error":\{"code":"headers_too_large"/);
    }
    // Query strings just under the header limit reach the router and get a proper error.
    expect4xx(
      await alice.call("GET", `/v1/conversations?limit=${"9".repeat(8000)}`),
      "long limit",
      "invalid_input",
    );
    const many = Array.from({ length: 2000 }, (_, i) => `u${i}`).join(",");
    expect4xx(await alice.call("GET", `/v1/presence?users=${many}`), "many users", "invalid_input");
  });

  it("invalid message ids in before/after/upTo are 400", async () => {
    const p = `/v1/conversations/${bob.name}`;
    const ids = [
      "",
      "x",
      "../../etc/passwd",
      bobToCarol.id.toLowerCase(),
      `${bobToCarol.id}0`,
      bobToCarol.id.slice(1),
      "01ARZ3NDEKTSV4RRFFQ69G5FAI", // I is not Crockford base32
      "01ARZ3NDEKTSV4RRFFQ69G5FA%00",
      "01ARZ3NDEKTSV4RRFFQ69G5FA'",
      "' OR 1=1 --",
      "Z".repeat(5000),
    ];
    for (const id of ids) {
      const q = encodeURIComponent(id);
      expect4xx(
        await alice.call("GET", `${p}/messages?before=${q}`),
        `before ${id.slice(0, 30)}`,
        "invalid_input",
      );
      expect4xx(
        await alice.call("GET", `${p}/messages?after=${q}`),
        `after ${id.slice(0, 30)}`,
        "invalid_input",
      );
      expect4xx(
        await alice.call("POST", `${p}/read`, { upTo: id }),
        `upTo ${id.slice(0, 30)}`,
        "invalid_input",
      );
    }
    for (const upTo of [null, 5, [], {}, true]) {
      expect4xx(
        await alice.call("POST", `${p}/read`, { upTo }),
        `upTo ${JSON.stringify(upTo)}`,
        "invalid_input",
      );
    }
  });

  it("huge and odd limit values are clamped or refused", async () => {
    const p = `/v1/conversations/${bob.name}`;
    // Large but well-formed: clamped to the page maximum.
    for (const path of [`${p}/messages?limit=999999999`, "/v1/conversations?limit=999999999999999"]) {
      assert.equal((await alice.call("GET", path)).status, 200, path);
    }
    const history = await alice.call("GET", `${p}/messages?limit=999999999999999`);
    assert.equal(history.status, 200);
    for (const limit of [
      "99999999999999999999",
      "1e9",
      "0x10",
      "-1",
      "0",
      "1.5",
      " 5",
      "5abc",
      "Infinity",
      "NaN",
      "%00",
    ]) {
      const q = encodeURIComponent(limit);
      for (const path of [
        `${p}/messages?limit=${q}`,
        `${p}/unread?limit=${q}`,
        `/v1/conversations?limit=${q}`,
      ]) {
        expect4xx(await alice.call("GET", path), path, "invalid_input");
      }
    }
    for (const before of ["-1", "1e20", "99999999999999999999", "now"]) {
      expect4xx(
        await alice.call("GET", `/v1/conversations?before=${before}`),
        `before ${before}`,
        "invalid_input",
      );
    }
    for (const timeout of ["-1", "1e3", "abc"]) {
      expect4xx(
        await alice.call("GET", `/v1/poll?timeout=${timeout}`),
        `timeout ${timeout}`,
        "invalid_input",
      );
    }
    for (const since of ["-1", "abc", "1e5", "99999999999999999999"]) {
      expect4xx(
        await alice.call("GET", `/v1/poll?timeout=0&since=${since}`),
        `since ${since}`,
        "invalid_input",
      );
    }
  });

  it("alice cannot see or touch bob's conversation with carol", async () => {
    // Her view of carol is her own conversation with carol: empty.
    const withCarol = await alice.call("GET", `/v1/conversations/${carol.name}/messages?limit=200`);
    assert.deepEqual(withCarol.body, { messages: [], hasMore: false });
    const unread = await alice.call("GET", `/v1/conversations/${carol.name}/unread?limit=200`);
    assert.deepEqual(unread.body, { messages: [] });
    // Naming the pair, or their internal conversation key, is not a user id.
    for (const peer of [
      `${bob.name}%20${carol.name}`,
      `${bob.name},${carol.name}`,
      `${bob.name}%2F${carol.name}`,
    ]) {
      expect4xx(await alice.call("GET", `/v1/conversations/${peer}/messages`), peer, "invalid_input");
    }
    // Marking bob's message to carol read, as alice, moves nothing.
    const mark = await alice.call("POST", `/v1/conversations/${carol.name}/read`, { upTo: bobToCarol.id });
    assert.equal(mark.status, 200);
    assert.deepEqual(mark.body, { upTo: null });
    // Everything she can list is hers.
    const convs = (await alice.call("GET", "/v1/conversations?limit=200")).body.conversations as {
      peer: string;
      lastMessage: Message;
    }[];
    assert.deepEqual(
      convs.map((c) => c.peer),
      [bob.name],
    );
    for (const c of convs) assert.ok([c.lastMessage.from, c.lastMessage.to].includes(alice.name));
    const events = (await alice.call("GET", "/v1/poll?since=0&timeout=0")).body.events as {
      type: string;
      message?: Message;
    }[];
    assert.ok(events.length > 0);
    for (const e of events) {
      if (e.message) assert.ok([e.message.from, e.message.to].includes(alice.name));
    }
    const all = JSON.stringify([withCarol.body, unread.body, convs, events]);
    assert.ok(!all.includes("secret for"), "alice saw bob and carol's messages");
  });

  it("alice cannot act as anyone else or use the server API", async () => {
    expect4xx(
      await alice.call("POST", "/v1/messages", { to: carol.name, text: "x", from: bob.name }),
      "from",
      "invalid_input",
    );
    expect4xx(
      await alice.call("POST", "/v1/typing", { to: carol.name, from: bob.name }),
      "typing from",
      "invalid_input",
    );
    expect4xx(
      await alice.call("POST", "/v1/admin/messages", { to: bob.name, text: "I am the system" }),
      "system",
      "unauthorized",
    );
    expect4xx(
      await alice.call("POST", "/v1/admin/messages", { to: bob.name, text: "x", from: carol.name }),
      "system from",
      "unauthorized",
    );
    expect4xx(await alice.call("POST", "/v1/admin/tokens", { user: bob.name }), "mint", "unauthorized");
    expect4xx(
      await alice.call("POST", `/v1/admin/users/${bob.name}/disconnect`),
      "disconnect",
      "unauthorized",
    );
    expect4xx(await alice.call("GET", "/v1/admin/stats"), "stats", "unauthorized");
    // A token naming bob but signed with anything but the secret is nobody.
    const forged = `${(await tokenFor(bob.name)).split(".").slice(0, 2).join(".")}.${alice.token.split(".")[2]}`;
    expect4xx(
      await api(base, forged, "POST", "/v1/messages", { to: carol.name, text: "x" }),
      "forged",
      "unauthorized",
    );
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(
      JSON.stringify({ sub: bob.name, exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString("base64url")}.`;
    expect4xx(
      await api(base, none, "POST", "/v1/messages", { to: carol.name, text: "x" }),
      "alg none",
      "unauthorized",
    );
    const expired = await tokenFor(bob.name, -60);
    expect4xx(
      await api(base, expired, "POST", "/v1/messages", { to: carol.name, text: "x" }),
      "expired",
      "token_expired",
    );
  });

  it("odd methods and paths are 404/405", async () => {
    for (const [method, path, status] of [
      ["PATCH", "/v1/messages", 405],
      ["GET", "/v1/messages", 405],
      ["DELETE", "/v1/conversations", 405],
      ["PUT", "/v1/typing", 405],
      ["GET", "/v1/nothing", 404],
      ["GET", "/v2/messages", 404],
      ["GET", "/v1/conversations/bob/messages/extra", 404],
      ["POST", "/v1/../../etc/passwd", 404],
      ["GET", "/index.html", 404],
    ] as const) {
      const r = await alice.call(method, path);
      expectError(r, status);
    }
  });

  it("after the barrage the store is exactly as before and the server answers", async () => {
    assert.equal((await api(base, null, "GET", "/healthz")).status, 200);
    assert.equal((await api(base, null, "GET", "/readyz")).status, 200);
    assert.deepEqual(await snapshot(), snapshotBefore);
    // Nothing above was an internal error.
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.doesNotMatch(metrics, /duet_errors_total\{code="internal"\}/);
    assert.match(metrics, /duet_errors_total\{code="invalid_input"\}/);
    // And it still works.
    await alice.send(bob.name, "still fine");
  });
});
