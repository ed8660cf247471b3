/** The SDK's SPEC 13 calls and events: edit, unsend, react, settings, mute, automatic delivery acks. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { DuetClient, TransportName } from "../../src/client/index.js";
import type { ConversationSummary } from "../../src/core/types.js";
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

for (const transport of ["ws", "longpoll"] as TransportName[]) {
  test(`SDK on ${transport}: edit, unsend, reactions, settings, mute, delivered acks`, async () => {
    const alice = `la-${transport}`;
    const bob = `lb-${transport}`;
    const a = await clientFor(server.url, alice, { transports: [transport] });
    const b = await clientFor(server.url, bob, { transports: [transport] });
    clients.push(a, b);
    const seen: Record<string, unknown[]> = { edit: [], delete: [], reaction: [], delivered: [] };
    b.on("edit", (e) => seen.edit?.push(e));
    b.on("delete", (e) => seen.delete?.push(e));
    b.on("reaction", (e) => seen.reaction?.push(e));
    a.on("delivered", (e) => seen.delivered?.push(e));
    await Promise.all([onlineOn(a, transport), onlineOn(b, transport)]);
    const m = await a.send({ to: bob, text: "helo" });
    // Bob's device acknowledges by itself; alice hears of it.
    await waitFor("the delivered event", () => (seen.delivered?.length ?? 0) > 0);
    const edited = await a.edit(m.id, "hello");
    assert.equal(edited.text, "hello");
    await waitFor("the edit event", () => (seen.edit?.length ?? 0) === 1);
    const reacted = await b.react(m.id, "❤️");
    assert.deepEqual(reacted.reactions, { "❤️": [bob] });
    await b.react(m.id, "❤️"); // idempotent
    await b.unreact(m.id, "❤️");
    await waitFor("two reaction events", () => (seen.reaction?.length ?? 0) === 2);
    const gone = await a.unsend(m.id);
    assert.equal(gone.kind, "deleted");
    assert.equal((await a.unsend(m.id)).kind, "deleted");
    await waitFor("the delete event", () => (seen.delete?.length ?? 0) === 1);
    assert.equal((await b.updateSettings({ readReceipts: false })).readReceipts, false);
    assert.equal((await b.settings()).readReceipts, false);
    await a.mute(bob);
    const convs: ConversationSummary[] = await a.conversations();
    assert.equal(convs[0]?.muted, true);
    assert.equal(convs[0]?.peerReadUpTo, null);
    assert.equal(convs[0]?.peerDeliveredUpTo, m.id);
    await a.unmute(bob);
  });
}
