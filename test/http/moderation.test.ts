/**
 * The moderation hook (SPEC 12) against a real local HTTP hook: accept, reject, rewrite, and every
 * way a hook can fail (garbage, 10 MB, no answer, a redirect, a 500, a refused connection), under
 * both failure policies; requests are signed (Standard Webhooks) and run concurrently.
 */

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import type { ModerationRequest } from "../../src/core/safety/moderation.js";
import type { Message } from "../../src/core/types.js";
import { WsClient } from "../helpers/clients.js";
import { startDuet, type TestServer } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { client, expectError, names } from "./util.js";

const SECRET = `whsec_${Buffer.from("moderation-test-secret-0123456789").toString("base64")}`;

interface Hook {
  url: string;
  server: Server;
  /** Every request, verified and parsed. */
  seen: ModerationRequest[];
  /** Requests whose signature did not verify. */
  badSignatures: number;
  close(): Promise<void>;
}

/** What the hook does is chosen by the message text, so one hook serves every case. */
function behave(text: string, res: ServerResponse, hookUrl: string) {
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (text.startsWith("reject")) return json(200, { action: "reject", reason: "insult" });
  if (text.startsWith("rewrite")) return json(200, { action: "rewrite", text: "[removed by moderation]" });
  if (text.startsWith("garbage")) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("<html>oops</html>");
    return;
  }
  if (text.startsWith("wrongshape")) return json(200, { action: "delete" });
  if (text.startsWith("hugedeclared")) return json(200, { action: "accept", pad: "x".repeat(100_000) });
  if (text.startsWith("huge")) {
    // 10 MB, streamed without a length: the client must stop reading at its limit.
    res.writeHead(200, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const write = () => {
      while (sent < 10 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once("drain", write);
          return;
        }
      }
      res.end();
    };
    res.on("error", () => {});
    write();
    return;
  }
  if (text.startsWith("never")) return; // holds the request open
  if (text.startsWith("redirect")) {
    res.writeHead(307, { location: `${hookUrl}?again` });
    res.end();
    return;
  }
  if (text.startsWith("error500")) return json(500, { action: "accept" });
  if (text.startsWith("slow")) {
    setTimeout(() => json(200, { action: "accept" }), 400);
    return;
  }
  json(200, { action: "accept" });
}

async function startHook(): Promise<Hook> {
  const verifier = new Webhook(SECRET);
  const hook: Hook = {
    url: "",
    server: createServer(),
    seen: [],
    badSignatures: 0,
    close: () =>
      new Promise((resolve) => {
        hook.server.closeAllConnections();
        hook.server.close(() => resolve());
      }),
  };
  hook.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      try {
        verifier.verify(raw, req.headers as Record<string, string>);
      } catch {
        hook.badSignatures++;
      }
      const request = JSON.parse(raw) as ModerationRequest;
      hook.seen.push(request);
      behave(request.message.text ?? "", res, hook.url);
    });
  });
  await new Promise<void>((resolve) => hook.server.listen(0, "127.0.0.1", resolve));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/moderate`;
  return hook;
}

const FAILURES = ["garbage", "wrongshape", "huge", "hugedeclared", "never", "redirect", "error500"];

describe("moderation hook, failing open (the default)", () => {
  let hook: Hook;
  let server: TestServer;
  before(async () => {
    hook = await startHook();
    server = await startDuet({
      DUET_MODERATION_URL: hook.url,
      DUET_WEBHOOK_SECRET: SECRET,
      DUET_MODERATION_TIMEOUT_MS: "300",
    });
  });
  after(async () => {
    await server.close();
    await hook.close();
  });

  it("POSTs each send, signed, as {message, pair}, and stores an accepted one unchanged", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const sent = await alice.send(b, "hello there", { links: [{ url: "https://x.example/" }] });
    assert.equal(sent.text, "hello there");
    assert.ok(!("moderated" in sent));
    const request = hook.seen.find((r) => r.message.from === a);
    assert.deepEqual(request, {
      message: {
        from: a,
        to: b,
        kind: "text",
        text: "hello there",
        image: null,
        links: [{ url: "https://x.example/" }],
      },
      pair: null,
    });
    assert.equal(hook.badSignatures, 0);
  });

  it("tells the hook since when the two are matched", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const r = await fetch(`${server.url}/v1/admin/pairs/${a}/${b}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${server.config.apiKey}`, "content-type": "application/json" },
      body: "{}",
    });
    const { pair } = (await r.json()) as { pair: { since: number } };
    await alice.send(b, "hi match");
    const request = hook.seen.find((q) => q.message.from === a);
    assert.deepEqual(request?.pair, { since: pair.since });
  });

  it("rejects with 422 message_rejected and the hook's reason, storing nothing", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const r = await alice.call("POST", "/v1/messages", { to: b, text: "reject me" });
    expectError(r, 422, "message_rejected");
    assert.equal((r.body.error as { reason?: string }).reason, "insult");
    const history = await alice.call("GET", `/v1/conversations/${b}/messages`);
    assert.deepEqual(history.body.messages, []);
  });

  it("stores a rewrite with the new text and moderated:true, and the peer receives that", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const bob = await client(server.url, b);
    const peer = new WsClient(server.url, bob.token);
    await peer.ready();
    const sent = await alice.send(b, "rewrite this insult");
    assert.equal(sent.text, "[removed by moderation]");
    assert.equal(sent.moderated, true);
    await peer.waitFor("message", () => peer.events.some((e) => e.type === "message"));
    const event = peer.events.find((e) => e.type === "message") as unknown as { message: Message };
    assert.deepEqual(event.message, sent);
    await peer.close();
  });

  for (const kind of FAILURES) {
    it(`stores the message as sent when the hook fails (${kind})`, async () => {
      const [a, b] = names("alice", "bob");
      const alice = await client(server.url, a);
      const start = performance.now();
      const sent = await alice.send(b, `${kind} case`);
      assert.equal(sent.text, `${kind} case`);
      assert.ok(!("moderated" in sent));
      // Within the timeout (300 ms) and some slack: no hook answer is waited on past it.
      assert.ok(performance.now() - start < 3000);
    });
  }

  it("holds only the slow send: others go through while the hook takes its time", async () => {
    const [a, b, c] = names("alice", "bob", "carol");
    const alice = await client(server.url, a);
    const carol = await client(server.url, c);
    const slow = alice.send(b, "slow one");
    await sleep(50);
    const start = performance.now();
    await carol.send(b, "quick one");
    const quick = performance.now() - start;
    assert.ok(quick < 250, `a fast send waited ${quick.toFixed(0)} ms behind a slow one`);
    assert.equal((await slow).text, "slow one");
  });

  it("does not send server API messages to the hook", async () => {
    const [b] = names("bob");
    const before = hook.seen.length;
    const r = await fetch(`${server.url}/v1/admin/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.config.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ to: b, text: "reject this? no: system messages are the app's own" }),
    });
    assert.equal(r.status, 201);
    assert.equal(hook.seen.length, before);
  });
});

describe("moderation hook, failing closed", () => {
  let hook: Hook;
  let server: TestServer;
  before(async () => {
    hook = await startHook();
    server = await startDuet({
      DUET_MODERATION_URL: hook.url,
      DUET_WEBHOOK_SECRET: SECRET,
      DUET_MODERATION_TIMEOUT_MS: "300",
      DUET_MODERATION_FAILURE: "closed",
    });
  });
  after(async () => {
    await server.close();
    await hook.close();
  });

  for (const kind of FAILURES) {
    it(`answers 503 moderation_unavailable and stores nothing when the hook fails (${kind})`, async () => {
      const [a, b] = names("alice", "bob");
      const alice = await client(server.url, a);
      const r = await alice.call("POST", "/v1/messages", { to: b, text: `${kind} case` });
      expectError(r, 503, "moderation_unavailable");
      assert.ok(r.headers.get("retry-after"));
      const history = await alice.call("GET", `/v1/conversations/${b}/messages`);
      assert.deepEqual(history.body.messages, []);
    });
  }

  it("answers 503 when the hook cannot be reached at all, and accepts again once it is back", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const port = (hook.server.address() as AddressInfo).port;
    await hook.close();
    const r = await alice.call("POST", "/v1/messages", { to: b, text: "anyone there?" });
    expectError(r, 503, "moderation_unavailable");
    await new Promise<void>((resolve) => hook.server.listen(port, "127.0.0.1", resolve));
    await alice.send(b, "back");
  });

  it("still answers accepted sends normally, and rejects on the WebSocket with the reason", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    await alice.send(b, "fine");
    const ws = new WsClient(server.url, alice.token);
    await ws.ready();
    const answer = await ws.request({ op: "send", to: b, text: "reject over ws" });
    assert.equal(answer.op, "error");
    assert.equal((answer.error as { reason?: string }).reason, "insult");
    await ws.close();
  });
});
