import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { DuetClient } from "../../src/client/index.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at, freePort } from "../helpers/kit.js";
import { clientFor, onlineOn, record, startProxy, type TestProxy, textsFrom, waitFor } from "./helpers.js";

let server: TestServer;
const clients: DuetClient[] = [];
const proxies: TestProxy[] = [];

before(async () => {
  server = await startDuet();
});
after(async () => {
  for (const c of clients) c.close();
  for (const p of proxies) await p.close();
  await server.close();
});

async function proxy(rules: Parameters<typeof startProxy>[1]) {
  const p = await startProxy(server.url, rules);
  proxies.push(p);
  return p;
}

test("WebSocket upgrades refused by a proxy (403): the client lands on SSE and chats over HTTP", async () => {
  const p = await proxy({ upgrade: "refuse" });
  const a = await clientFor(p.url, "fb-alice");
  // Recorded at once: a connects while b's token is made, and its first events must not be missed.
  const ra = record(a);
  const b = await clientFor(server.url, "fb-bob", { transports: ["ws"] });
  const rb = record(b);
  clients.push(a, b);
  await onlineOn(a, "sse");
  await onlineOn(b, "ws");
  assert.ok(p.seen.includes("UPGRADE /v1/ws"), "it tried the WebSocket first");
  assert.equal(ra.statuses.filter((s) => s.state === "online").length, 1);
  await a.send({ to: "fb-bob", text: "through the proxy" });
  assert.ok(p.seen.includes("POST /v1/messages"), "off WebSocket, sends go over HTTP");
  await waitFor("bob receives", () => textsFrom(rb, "fb-alice").length === 1);
  await b.send({ to: "fb-alice", text: "back over ws" });
  await waitFor("alice receives", () => textsFrom(ra, "fb-bob").length === 1);
});

test("on WebSocket, sends use the socket's send op (no HTTP POST)", async () => {
  const p = await proxy({ upgrade: "forward" });
  const a = await clientFor(p.url, "op-alice");
  clients.push(a);
  await onlineOn(a, "ws");
  const m = await a.send({ to: "op-bob", text: "over the socket" });
  assert.equal(m.text, "over the socket");
  assert.ok(!p.seen.includes("POST /v1/messages"), `seen: ${p.seen.join(", ")}`);
});

test("WebSocket, SSE and streaming all refused: the client lands on long-polling", async () => {
  const p = await proxy({
    upgrade: "refuse",
    request: (_m, path) => (path === "/v1/events" || path === "/v1/stream" ? "refuse" : "forward"),
  });
  const a = await clientFor(p.url, "lp-alice");
  clients.push(a);
  const ra = record(a);
  await onlineOn(a, "longpoll");
  assert.deepEqual(
    ra.statuses.filter((s) => s.state !== "online").map((s) => s.transport),
    ["ws", "sse", "stream", "longpoll"],
    "tried in the spec's order, each once",
  );
  await api(server.url, await tokenFor("lp-bob"), "POST", "/v1/messages", {
    to: "lp-alice",
    text: "poll me",
  });
  await waitFor("alice receives over long-polling", () => textsFrom(ra, "lp-bob").length === 1);
});

test("a stream that never answers (a buffering proxy) times out and falls back to the next transport", async () => {
  const p = await proxy({
    upgrade: "refuse",
    request: (_m, path) => (path === "/v1/events" ? "stall" : "forward"),
  });
  const a = await clientFor(p.url, "stall-alice", { connectTimeoutMs: 1500 });
  clients.push(a);
  await onlineOn(a, "stream");
});

test("a server that cannot be reached is waited for on the best transport, not fallen back from", async () => {
  // A port with nothing listening: connections are refused outright.
  const port = await freePort();
  const a = await clientFor(`http://127.0.0.1:${port}`, "down-alice", {
    backoff: { initialMs: 50, maxMs: 200 },
  });
  clients.push(a);
  const ra = record(a);
  await waitFor("several attempts", () => ra.statuses.filter((s) => s.retryInMs !== undefined).length >= 4);
  assert.ok(
    ra.statuses.every((s) => s.state === "connecting"),
    "never online yet: connecting, not reconnecting",
  );
  assert.ok(
    ra.statuses.every((s) => s.transport === "ws"),
    `stayed on ws: ${ra.statuses.map((s) => s.transport)}`,
  );
  assert.ok(
    ra.statuses.some((s) => s.retryInMs !== undefined && s.retryInMs > 0),
    "backs off between attempts",
  );
  const late = await startDuet({ DUET_PORT: String(port) });
  try {
    await onlineOn(a, "ws");
  } finally {
    a.close();
    await late.close();
  }
});

test("a send whose answer is lost is retried with the same clientMsgId and stored once", async () => {
  let posts = 0;
  const p = await proxy({
    upgrade: "refuse",
    request: (method, path) => {
      if (method === "POST" && path === "/v1/messages") return ++posts === 1 ? "drop-response" : "forward";
      return "forward";
    },
  });
  const a = await clientFor(p.url, "lost-alice", { transports: ["longpoll"] });
  clients.push(a);
  const ra = record(a);
  await onlineOn(a, "longpoll");
  const m = await a.send({ to: "lost-bob", text: "exactly once" });
  assert.equal(posts, 2, "the first answer was lost, so it was sent again");
  const history = await api(
    server.url,
    await tokenFor("lost-bob"),
    "GET",
    "/v1/conversations/lost-alice/messages",
  );
  const texts = (history.body.messages as { text: string; id: string }[]).map((x) => x.text);
  assert.deepEqual(texts, ["exactly once"]);
  await waitFor("alice's own event", () => ra.messages.length === 1);
  assert.equal(at(ra.messages, 0).id, m.id);
});
