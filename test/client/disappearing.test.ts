/** The SDK's SPEC 15 call and event: client.setTtl (queued while offline), the typed `ttl` event, expiresAt. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { DuetClient, TransportName, TtlEvent } from "../../src/client/index.js";
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
