/**
 * The SDK's SPEC 15 call and event: client.setTtl (queued while offline), the typed `ttl` event,
 * expiresAt; a view's ttl seeded from the conversation list, and a view hiding a message at its
 * expiresAt by itself (the server sends no event for it).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { DuetClient, TransportName, TtlEvent } from "../../src/client/index.js";
import type { ViewChange } from "../../src/client/message-view.js";
import { startDuet, type TestServer } from "../helpers/duet.js";
import { clientFor, onlineOn, waitFor } from "./helpers.js";

let server: TestServer;
const clients: DuetClient[] = [];
before(async () => {
  server = await startDuet();
});
after(async () => {
  for (const c of clients) c.close();
  await server.close();
});

for (const transport of ["ws", "sse", "longpoll"] as TransportName[]) {
  test(`SDK on ${transport}: setTtl, the ttl event on both sides, expiresAt on later messages`, async () => {
    const alice = `ta-${transport}`;
    const bob = `tb-${transport}`;
    const a = await clientFor(server.url, alice, { transports: [transport] });
    const b = await clientFor(server.url, bob, { transports: [transport] });
    clients.push(a, b);
    const seenA: TtlEvent[] = [];
    const seenB: TtlEvent[] = [];
    a.on("ttl", (e) => seenA.push(e));
    b.on("ttl", (e) => seenB.push(e));
    await Promise.all([onlineOn(a, transport), onlineOn(b, transport)]);
    assert.deepEqual(await a.setTtl(bob, 86_400), { peer: bob, seconds: 86_400 });
    await waitFor("both ttl events", () => seenA.length === 1 && seenB.length === 1);
    assert.deepEqual({ ...seenA[0], seq: 0 }, { type: "ttl", seq: 0, peer: bob, seconds: 86_400 });
    assert.deepEqual({ ...seenB[0], seq: 0 }, { type: "ttl", seq: 0, peer: alice, seconds: 86_400 });
    const m = await b.send({ to: alice, text: "for a day" });
    assert.equal(m.expiresAt, m.ts + 86_400_000);
    await assert.rejects(a.setTtl(bob, 5), (err: Error & { code?: string }) => err.code === "invalid_input");
    await b.setTtl(alice, 0);
    await waitFor("the off event", () => seenA.length === 2);
    assert.equal(seenA[1]?.seconds, 0);
  });
}

test("a new device's view learns the conversation's ttl from the conversation list", async () => {
  const a = await clientFor(server.url, "tv-alice");
  const b = await clientFor(server.url, "tv-bob");
  clients.push(a, b);
  await b.send({ to: "tv-alice", text: "hi" });
  await a.setTtl("tv-bob", 3600);
  // A fresh client (a new device): nothing replayed into it, only the list.
  const fresh = await clientFor(server.url, "tv-alice");
  clients.push(fresh);
  const view = fresh.view("tv-bob");
  await view.load();
  assert.equal(view.ttl, 3600);
  const list = await fresh.conversations();
  assert.equal(list.find((c) => c.peer === "tv-bob")?.ttl, 3600);
});

test("a loaded view turns a message into its tombstone at expiresAt (DUET_MESSAGE_TTL_S=1)", async () => {
  const short = await startDuet({ DUET_MESSAGE_TTL_S: "1" });
  const a = await clientFor(short.url, "te-alice");
  const b = await clientFor(short.url, "te-bob");
  try {
    const view = a.view("te-bob");
    await view.load();
    const changes: ViewChange[] = [];
    view.on("change", (c) => changes.push(c));
    await onlineOn(a);
    const m = await b.send({ to: "te-alice", text: "one second" });
    assert.equal(m.expiresAt, m.ts + 1000);
    await waitFor("the message in the view", () => view.message(m.id)?.kind === "text");
    await waitFor("its expiry in the view", () => view.message(m.id)?.kind === "deleted", 10_000);
    const shown = view.message(m.id);
    assert.equal(shown?.text, null);
    assert.equal(shown?.deletedAt, m.expiresAt);
    assert.ok(changes.some((c) => c.ids.includes(m.id) && c.peer === "te-bob"));
  } finally {
    a.close();
    b.close();
    await short.close();
  }
});
