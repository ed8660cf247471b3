/** SPEC 12 on a real server: the contact-info screen's modes, on HTTP and WebSocket, and image hosts. */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Message } from "../../src/core/types.js";
import { WsClient } from "../helpers/clients.js";
import { startDuet, type TestServer } from "../helpers/duet.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { client, expectError, names } from "./util.js";

const PHONE = "call me on 555-123-4567 or mail jane at gmail dot com";

describe("DUET_SCREEN=mask", () => {
  let server: TestServer;
  before(async () => {
    server = await startDuet({ DUET_SCREEN: "mask" });
  });
  after(() => server.close());

  it("replaces each finding with [hidden] and stores which kinds it found", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const bob = await client(server.url, b);
    const sent = await alice.send(b, PHONE);
    assert.equal(sent.text, "call me on [hidden] or mail [hidden]");
    assert.deepEqual(sent.screened, ["phone", "email"]);
    const history = await bob.call("GET", `/v1/conversations/${a}/messages`);
    assert.deepEqual((history.body.messages as Message[]).at(-1), sent);
  });

  it("leaves a message without findings as it was, with no screened field", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const r = await alice.call("POST", "/v1/messages", { to: b, text: "see you at 10:30, it's $45" });
    assert.equal(r.status, 201);
    assert.equal((r.body.message as Message).text, "see you at 10:30, it's $45");
    assert.ok(!("screened" in (r.body.message as object)));
  });

  it("masks on a WebSocket send too, and the peer's event carries the masked text", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const bob = await client(server.url, b);
    const ws = new WsClient(server.url, alice.token);
    const peer = new WsClient(server.url, bob.token);
    await Promise.all([ws.ready(), peer.ready()]);
    const answer = await ws.request({ op: "send", to: b, text: "my insta is @jane.doe" });
    assert.equal(answer.op, "result", JSON.stringify(answer));
    const message = answer.message as Message;
    assert.equal(message.text, "my insta is [hidden]");
    assert.deepEqual(message.screened, ["handle"]);
    await peer.waitFor("message", () => peer.events.some((e) => e.type === "message"));
    const event = peer.events.find((e) => e.type === "message") as { message: Message } | undefined;
    assert.deepEqual(event?.message, message);
    await Promise.all([ws.close(), peer.close()]);
  });

  it("does not screen system messages from the server API", async () => {
    const [b] = names("bob");
    const r = await fetch(`${server.url}/v1/admin/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.config.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ to: b, text: "support line: +44 20 7946 0958" }),
    });
    assert.equal(r.status, 201);
    const { message } = (await r.json()) as { message: Message };
    assert.equal(message.text, "support line: +44 20 7946 0958");
  });
});

describe("DUET_SCREEN=reject", () => {
  let server: TestServer;
  before(async () => {
    server = await startDuet({ DUET_SCREEN: "reject" });
  });
  after(() => server.close());

  it("answers 422 message_rejected with reason contact_info and stores nothing (HTTP)", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const r = await alice.call("POST", "/v1/messages", { to: b, text: "five five five one two three four" });
    expectError(r, 422, "message_rejected");
    assert.equal((r.body.error as { reason?: string }).reason, "contact_info");
    const history = await alice.call("GET", `/v1/conversations/${b}/messages`);
    assert.deepEqual(history.body.messages, []);
    await alice.send(b, "fine, let's talk here");
  });

  it("answers the WebSocket send with an error frame carrying the reason; the connection stays", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const ws = new WsClient(server.url, alice.token);
    await ws.ready();
    const answer = await ws.request({ op: "send", to: b, text: "t.me/janedoe" });
    assert.equal(answer.op, "error");
    assert.deepEqual(answer.error, {
      code: "message_rejected",
      message: "The message contains contact details.",
      reason: "contact_info",
    });
    const ok = await ws.request({ op: "send", to: b, text: "ok, later" });
    assert.equal(ok.op, "result");
    await ws.close();
  });
});

describe("DUET_SCREEN=flag", () => {
  let server: TestServer;
  before(async () => {
    server = await startDuet({ DUET_SCREEN: "flag" });
  });
  after(() => server.close());

  it("stores the text as sent and adds screened", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const sent = await alice.send(b, PHONE);
    assert.equal(sent.text, PHONE);
    assert.deepEqual(sent.screened, ["phone", "email"]);
  });
});

describe("DUET_SCREEN=off (the default)", () => {
  let server: TestServer;
  before(async () => {
    server = await startDuet();
  });
  after(() => server.close());

  it("keeps no safety checks on the send path and passes contact details through", async () => {
    assert.equal(server.chat.safety, undefined);
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const sent = await alice.send(b, PHONE, {
      image: { url: "http://tracker.example/pixel.gif?who=maya" },
    });
    assert.equal(sent.text, PHONE);
    assert.ok(!("screened" in sent));
  });
});

describe("DUET_IMAGE_HOSTS", () => {
  let server: TestServer;
  before(async () => {
    server = await startDuet({ DUET_IMAGE_HOSTS: "cdn.example.com, img.example.org" });
  });
  after(() => server.close());

  it("refuses an image or a link on another host with 400 host_not_allowed, and stores nothing", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const bad = [
      { image: { url: "http://tracker.example/pixel.gif?who=maya" } },
      { text: "look", links: [{ url: "https://cdn.example.com/ok" }, { url: "https://evil.example/x" }] },
      { image: { url: "https://cdn.example.com.evil.example/a.png" } },
      { image: { url: "https://user@evil.example/cdn.example.com/a.png" } },
      { image: { url: "https://sub.cdn.example.com/a.png" } },
    ];
    for (const extra of bad) {
      const r = await alice.call("POST", "/v1/messages", { to: b, ...extra });
      expectError(r, 400, "host_not_allowed");
    }
    const history = await alice.call("GET", `/v1/conversations/${b}/messages`);
    assert.deepEqual(history.body.messages, []);
  });

  it("accepts images and links on the listed hosts (any case, any port or path)", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const sent = await alice.send(b, "pic", {
      image: { url: "https://CDN.example.com/a.png?size=2" },
      links: [{ url: "http://img.example.org:8080/x" }],
    });
    assert.equal(sent.kind, "image");
    await alice.send(b, "plain text is not affected");
  });

  it("refuses a tracking pixel sent over the WebSocket too", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const ws = new WsClient(server.url, alice.token);
    await ws.ready();
    const answer = await ws.request({ op: "send", to: b, image: { url: "http://tracker.example/p.gif" } });
    assert.equal(answer.op, "error");
    assert.equal((answer.error as { code: string }).code, "host_not_allowed");
    await ws.close();
  });
});

describe("a pair's own screen (PUT /v1/admin/pairs/:a/:b {screen})", () => {
  const admin = (server: TestServer, method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${server.config.apiKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it("overrides the server's screen both ways: off for a paid booking, reject for a pair", async () => {
    const server = await startDuet({ DUET_SCREEN: "mask", DUET_PAIRS: "matched" });
    try {
      const [a, b, c] = names("alice", "bob", "carol");
      const alice = await client(server.url, a);
      assert.equal((await admin(server, "PUT", `/v1/admin/pairs/${a}/${b}`, { screen: "off" })).status, 201);
      assert.equal((await admin(server, "PUT", `/v1/admin/pairs/${a}/${c}`, {})).status, 201);
      assert.equal((await alice.send(b, "my number is 555-123-4567")).text, "my number is 555-123-4567");
      assert.equal((await alice.send(c, "my number is 555-123-4567")).text, "my number is [hidden]");
      assert.equal(
        (await admin(server, "PUT", `/v1/admin/pairs/${a}/${b}`, { screen: "reject" })).status,
        200,
      );
      const r = await alice.call("POST", "/v1/messages", { to: b, text: "my number is 555-123-4567" });
      expectError(r, 422, "message_rejected");
    } finally {
      await server.close();
    }
  });
});
