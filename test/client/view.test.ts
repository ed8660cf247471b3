/**
 * The SDK's local view against a real server, on WebSocket and long-polling: edits, unsends,
 * reactions and delivered/read ticks reach both views; a device that signs in later shows the same
 * state from the server's (history and GET /v1/conversations' markers); a client resuming from an
 * old cursor replays every event into a loaded view and ends where the others are; with read
 * receipts turned off the peer's view stops turning ticks to "read".
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ConversationView, Cursor, DuetClient, TransportName } from "../../src/client/index.js";
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

/** What a screen shows of a view (ids, kinds, texts, reactions, ticks). */
function shown(view: ConversationView): string[] {
  return view.messages.map(
    (m) =>
      `${m.mine ? "me" : "them"}:${m.kind}:${m.text ?? ""}:${JSON.stringify(m.reactions ?? {})}:${m.tick ?? "-"}`,
  );
}

/** Waits until the view shows `expected`; on a timeout, says what it showed instead. */
async function settles(what: string, view: ConversationView, expected: string[]): Promise<void> {
  await waitFor(what, () => shown(view).join("|") === expected.join("|")).catch(() => {
    assert.deepEqual(shown(view), expected, what);
  });
}

for (const transport of ["ws", "longpoll"] as TransportName[]) {
  test(`the view on ${transport}: edit, unsend, reactions, ticks, a new device, a replay`, async () => {
    const alice = `va-${transport}`;
    const bob = `vb-${transport}`;
    const a = await clientFor(server.url, alice, { transports: [transport] });
    const b = await clientFor(server.url, bob, { transports: [transport] });
    clients.push(a, b);
    let start: Cursor | null = null;
    a.on("reset", (e) => {
      start ??= { seq: e.seq, epoch: e.epoch };
    });
    await Promise.all([onlineOn(a, transport), onlineOn(b, transport)]);
    const av = a.view(bob);
    const bv = b.view(alice);
    let changes = 0;
    a.on("change", (c) => {
      if (c.peer === bob) changes++;
    });
    await Promise.all([av.load(), bv.load()]);
    assert.deepEqual(av.messages, []);

    const m1 = await a.send({ to: bob, text: "helo" });
    const m2 = await a.send({ to: bob, text: "for carol, oops" });
    // Bob's SDK acknowledges delivery by itself: alice's ticks turn to delivered.
    await waitFor("delivered ticks", () => av.messages.filter((m) => m.tick === "delivered").length === 2);
    assert.ok(changes > 0, "the client announced the changes");
    await waitFor("bob's view has both", () => bv.messages.length === 2);

    await a.edit(m1.id, "hello");
    await waitFor("the edit in bob's view", () => bv.message(m1.id)?.text === "hello");
    assert.equal(typeof bv.message(m1.id)?.editedAt, "number");
    await b.react(m1.id, "❤️");
    await b.react(m1.id, "😂");
    await b.unreact(m1.id, "😂");
    await a.react(m1.id, "❤️");
    await waitFor("reactions in alice's view", () => av.message(m1.id)?.reactions?.["❤️"]?.length === 2);
    await waitFor("the unreact in alice's view", () => av.message(m1.id)?.reactions?.["😂"] === undefined);
    await a.unsend(m2.id);
    await waitFor("the tombstone in bob's view", () => bv.message(m2.id)?.kind === "deleted");
    assert.equal(bv.message(m2.id)?.text, null);
    await waitFor("the tombstone in alice's view", () => av.message(m2.id)?.kind === "deleted");

    const reply = await b.send({ to: alice, text: "hi!" });
    assert.equal((await b.markRead(alice, m1.id)).upTo, m1.id);
    await waitFor("read tick", () => av.message(m1.id)?.tick === "read");
    await waitFor("alice's view has bob's reply", () => av.message(reply.id)?.mine === false);
    await waitFor("bob's view has its own read marker", () => bv.readUpTo === m1.id);
    const expected = [
      `me:text:hello:${JSON.stringify({ "❤️": [bob, alice] })}:read`,
      "me:deleted::{}:delivered",
      "them:text:hi!:{}:-",
    ];
    await settles("alice's view", av, expected);

    // A new device, signed in now: the same state, from the server's alone.
    const a2 = await clientFor(server.url, alice, { transports: [transport] });
    clients.push(a2);
    await onlineOn(a2, transport);
    const fresh = a2.view(bob);
    await fresh.load();
    assert.deepEqual(shown(fresh), expected, "a new device shows the same messages and ticks");

    // A client resuming from the very first cursor replays every event into a loaded view.
    assert.ok(start !== null);
    const a3 = await clientFor(server.url, alice, { transports: [transport], cursor: start });
    clients.push(a3);
    const replayed = a3.view(bob);
    await replayed.load(); // loaded first, so every replayed event lands on state that has it
    await onlineOn(a3, transport);
    await settles("the replayed view", replayed, expected);

    // Read receipts off: bob still reads, alice's view stays at delivered.
    await b.updateSettings({ readReceipts: false });
    const m3 = await a.send({ to: bob, text: "are you there?" });
    await waitFor("m3 delivered", () => av.message(m3.id)?.tick === "delivered");
    await b.markRead(alice, m3.id);
    // A later event from bob is the barrier: the stream is ordered, so a read would be before it.
    await b.react(m3.id, "👍");
    await waitFor("bob's reaction", () => av.message(m3.id)?.reactions?.["👍"] !== undefined);
    assert.equal(av.message(m3.id)?.tick, "delivered", "no read tick with read receipts off");
    const a4 = await clientFor(server.url, alice, { transports: [transport] });
    clients.push(a4);
    const later = a4.view(bob); // a device signed in now
    await later.load();
    assert.equal(later.message(m3.id)?.tick, "delivered");
    assert.equal(later.peerReadUpTo, null, "the server does not tell the marker either");
    await b.updateSettings({ readReceipts: true });
    for (const c of [a2, a3, a4]) c.close();
  });
}
