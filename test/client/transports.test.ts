import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type DuetClient, TRANSPORTS } from "../../src/client/index.js";
import { startDuet, type TestServer } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { clientFor, onlineOn, record, textsFrom, waitFor } from "./helpers.js";

let server: TestServer;
const clients: DuetClient[] = [];

before(async () => {
  server = await startDuet();
});
after(async () => {
  for (const c of clients) c.close();
  await server.close();
});

for (const transport of TRANSPORTS) {
  test(`SDK forced onto ${transport}: messages both ways, read receipts, typing`, async () => {
    const alice = `alice-${transport}`;
    const bob = `bob-${transport}`;
    const a = await clientFor(server.url, alice, { transports: [transport] });
    // Recorded at once: a connects while b's token is made, and its first events must not be missed.
    const ra = record(a);
    const b = await clientFor(server.url, bob, { transports: [transport] });
    const rb = record(b);
    clients.push(a, b);
    await Promise.all([onlineOn(a, transport), onlineOn(b, transport)]);
    assert.deepEqual(
      ra.resets,
      [{ reason: "initial", seq: 0 }],
      "a fresh client is told to load its state once",
    );

    const first = await a.send({ to: bob, text: "hi bob 👋 — ünïcödé" });
    assert.equal(first.from, alice);
    assert.equal(first.text, "hi bob 👋 — ünïcödé");
    assert.ok(first.clientMsgId, "the SDK gives every send a clientMsgId");
    await b.send({ to: alice, text: "hi alice", links: [{ url: "https://example.com/", title: "ex" }] });
    await a.send({
      to: bob,
      image: { url: "https://example.com/cat.png", width: 10, height: 10 },
      text: "cat",
    });

    await waitFor("bob gets both of alice's messages", () => textsFrom(rb, alice).length === 2);
    await waitFor("alice gets bob's message", () => textsFrom(ra, bob).length === 1);
    assert.deepEqual(textsFrom(rb, alice), ["hi bob 👋 — ünïcödé", "cat"]);
    assert.equal(rb.messages.find((m) => m.kind === "image")?.image?.url, "https://example.com/cat.png");
    assert.deepEqual(ra.messages.find((m) => m.from === bob)?.links, [
      { url: "https://example.com/", title: "ex" },
    ]);
    // Each side also sees its own sends (other devices would), in the same order as the peer.
    await waitFor("alice sees her own two sends", () => textsFrom(ra, alice).length === 2);
    assert.deepEqual(
      ra.messages.map((m) => m.id),
      rb.messages.map((m) => m.id),
      "both sides see one total order",
    );

    const last = rb.messages.at(-1)!;
    assert.deepEqual(await b.markRead(alice, last.id), { upTo: last.id });
    await waitFor("alice is told bob read", () => ra.reads.length === 1);
    assert.deepEqual(ra.reads[0], { peer: bob, reader: bob, upTo: last.id });

    await a.typing(bob);
    // Typing is ephemeral (never stored): it reaches open connections only. A short-polling
    // client has none between its polls, so it cannot see typing; every other transport must.
    if (transport !== "poll") await waitFor("bob sees alice typing", () => rb.typing.includes(alice));

    for (const r of [ra, rb]) {
      assert.deepEqual(
        r.seqs,
        [...new Set(r.seqs)].sort((x, y) => x - y),
        "seqs strictly increase",
      );
      assert.equal(new Set(r.messages.map((m) => m.id)).size, r.messages.length, "no message twice");
    }
    assert.ok(
      ra.statuses.every((s) => s.transport === transport || s.transport === null),
      "never left the forced transport",
    );
    a.close();
    b.close();
  });
}

test("SDK HTTP helpers: conversations, history, unread, presence, blocks; refused sends reject", async () => {
  const a = await clientFor(server.url, "helper-a", { transports: ["ws"] });
  const b = await clientFor(server.url, "helper-b", { transports: ["sse"] });
  clients.push(a, b);
  await Promise.all([onlineOn(a), onlineOn(b)]);
  const sent = [];
  for (const text of ["one", "two", "three"]) sent.push(await a.send({ to: "helper-b", text }));

  const convs = await b.conversations();
  assert.equal(convs.length, 1);
  assert.equal(at(convs, 0).peer, "helper-a");
  assert.equal(at(convs, 0).unread, 3);
  assert.equal(at(convs, 0).lastMessage?.text, "three");

  const page = await b.history("helper-a", { limit: 2 });
  assert.deepEqual(
    page.messages.map((m) => m.text),
    ["two", "three"],
  );
  assert.equal(page.hasMore, true);
  const older = await b.history("helper-a", { before: at(page.messages, 0).id });
  assert.deepEqual(
    older.messages.map((m) => m.text),
    ["one"],
  );

  const unread = await b.unread("helper-a", { limit: 2 });
  assert.deepEqual(
    unread.map((m) => m.text),
    ["one", "two"],
  );
  assert.equal((await b.conversations())[0]?.unread, 1, "exactly the returned ones became read");

  const presence = await a.presence(["helper-b", "nobody-here"]);
  assert.equal(at(presence, "helper-b").online, true);
  assert.equal(at(presence, "nobody-here").online, false);

  assert.deepEqual(await b.block("helper-a"), ["helper-a"]);
  assert.deepEqual(await b.blocks(), ["helper-a"]);
  await assert.rejects(a.send({ to: "helper-b", text: "blocked?" }), (err: Error & { code?: string }) => {
    assert.equal(err.code, "blocked");
    return true;
  });
  assert.deepEqual(await b.unblock("helper-a"), []);
  await assert.rejects(a.send({ to: "helper-a", text: "me" }), { code: "self_message" });
  await assert.rejects(a.send({ to: "helper-b", text: "" }), { code: "invalid_input" });
  assert.equal(a.pendingSends, 0, "refused sends are not retried");
  // The same clientMsgId twice is stored once.
  const again = await a.send({ to: "helper-b", text: "three", clientMsgId: at(sent, 2).clientMsgId! });
  assert.equal(again.id, at(sent, 2).id);
  a.close();
  b.close();
  await assert.rejects(a.send({ to: "helper-b", text: "late" }), { code: "closed" });
});
