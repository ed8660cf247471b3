/**
 * Issue 6, W2 (memory per idle connection): what a connection keeps is laid out so that an idle
 * one costs little, and the behaviour that layout must keep. The hub holds a user's only
 * connection without a collection around it, and a user at a per-user limit of 1 who connects
 * again is served on the new connection; WebSocket listeners are shared functions, not closures;
 * ws's automatic pong (a closure per socket) is replaced by a shared one that still cuts a peer
 * that pings without reading.
 */
import assert from "node:assert/strict";
import type { EventEmitter } from "node:events";
import { test } from "node:test";
import { connect, type WsClient, waitUntil } from "../helpers/clients.js";
import { api, startDuet, tokenFor } from "../helpers/duet.js";
import { at, take } from "../helpers/kit.js";

test("at a per-user limit of 1 each new connection replaces the last and gets the user's events", async () => {
  const server = await startDuet({ DUET_MAX_CONNECTIONS_PER_USER: "1" });
  try {
    const token = await tokenFor("solo");
    const solo = () => server.chat.hub.all().filter((l) => l.user === "solo");
    const first = await connect("ws", server.url, token);
    const second = await connect("sse", server.url, token);
    assert.equal((await first.closed).code, 4009);
    const third = await connect("stream", server.url, token);
    await waitUntil("the SSE stream replaced", () => second.ended !== undefined);
    const fourth = await connect("ws", server.url, token);
    await waitUntil("the NDJSON stream replaced", () => third.ended !== undefined);
    assert.equal(solo().length, 1);
    assert.equal(server.chat.hub.connectionCount, 1);

    await api(server.url, await tokenFor("friend"), "POST", "/v1/messages", { to: "solo", text: "hi" });
    await fourth.waitForSeq(1);
    fourth.abort();
    await waitUntil("the hub empty again", () => server.chat.hub.connectionCount === 0);
    // The user's subscription went with its last connection; a new one is served from scratch.
    const fifth = await connect("ws", server.url, token);
    await api(server.url, await tokenFor("friend"), "POST", "/v1/messages", { to: "solo", text: "again" });
    await fifth.waitForSeq(2);
    fifth.abort();
  } finally {
    await server.close();
  }
});

test("WebSocket connections share their listener functions: none holds closures of its own", async () => {
  const server = await startDuet();
  try {
    const a = (await connect("ws", server.url, await tokenFor("layout-a"))) as WsClient;
    const b = (await connect("ws", server.url, await tokenFor("layout-b"))) as WsClient;
    const sockets = server.chat.hub.all().map((l) => (l.sink as unknown as { ws: EventEmitter }).ws);
    assert.equal(sockets.length, 2);
    for (const event of ["message", "close", "error", "ping", "pong"]) {
      const [first, second] = take(
        sockets.map((ws) => ws.listeners(event)),
        2,
      );
      assert.equal(first.length, 1, `one ${event} listener`);
      assert.equal(at(first, 0), at(second, 0), `the ${event} listener is shared`);
    }
    // Nothing else listens: no registry of ws's own (the hub is the registry).
    assert.deepEqual(
      at(sockets, 0)
        .eventNames()
        .filter((e) => at(sockets, 0).listenerCount(e) > 0)
        .sort(),
      ["close", "error", "message", "ping", "pong"],
    );
    a.abort();
    b.abort();
    await waitUntil("both detached", () => server.chat.hub.connectionCount === 0);
  } finally {
    await server.close();
  }
});

test("a client's WebSocket ping is answered with its payload; one that pings and never reads is cut", async () => {
  const server = await startDuet({ DUET_BUFFER_LIMIT: String(64 * 1024), DUET_WS_PING_MS: "600000" });
  try {
    const client = (await connect("ws", server.url, await tokenFor("pinger"))) as WsClient;
    const pong = new Promise<string>((resolve) => client.ws.once("pong", (data) => resolve(data.toString())));
    client.ws.ping("are you there");
    assert.equal(await pong, "are you there");
    // Still a working connection.
    assert.equal((await client.request({ op: "ping" })).op, "result");

    // Stop reading and ping on: the pongs back up through the kernel's buffers into the server's,
    // and the server cuts the connection rather than hold them all.
    client.pause();
    const payload = "p".repeat(125);
    let sent = 0;
    await waitUntil(
      "the server to cut the flooding client",
      () => {
        for (let i = 0; i < 2000 && client.ws.readyState === client.ws.OPEN; i++) {
          client.ws.ping(payload);
          sent++;
        }
        return server.chat.hub.connectionCount === 0;
      },
      120_000,
    );
    assert.ok(sent > 0);
    client.abort();
  } finally {
    await server.close();
  }
});
