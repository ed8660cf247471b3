import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { DuetClient, Message, TransportName } from "../../src/client/index.js";
import { api, type ChildDuet, spawnDuet, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { clientFor, onlineOn, record, textsFrom, waitFor } from "./helpers.js";

const children: ChildDuet[] = [];
const clients: DuetClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const child of children) await child.kill("SIGKILL");
});

async function spawn(env: Record<string, string>) {
  const child = await spawnDuet(env);
  children.push(child);
  return child;
}

const cases: [NodeJS.Signals, TransportName, TransportName][] = [
  ["SIGTERM", "ws", "longpoll"],
  ["SIGKILL", "sse", "ws"],
  ["SIGTERM", "stream", "poll"],
];

for (const [signal, ta, tb] of cases) {
  test(`server restart (${signal}) mid-conversation, ${ta} <-> ${tb}: nothing lost or duplicated on either side`, async () => {
    const store = tempDbUrl();
    let server = await spawn({ DUET_STORE: store });
    const port = new URL(server.url).port;
    const alice = `r-alice-${ta}`;
    const bob = `r-bob-${tb}`;
    const a = await clientFor(server.url, alice, { transports: [ta] });
    // Recorded at once: a connects while b's token is made, and its first events must not be missed.
    const ra = record(a);
    const b = await clientFor(server.url, bob, { transports: [tb] });
    const rb = record(b);
    clients.push(a, b);
    await Promise.all([onlineOn(a, ta), onlineOn(b, tb)]);

    const sends: Promise<Message>[] = [];
    const say = (n: number) => {
      sends.push(a.send({ to: bob, text: `a${n}` }), b.send({ to: alice, text: `b${n}` }));
    };
    for (let n = 1; n <= 5; n++) say(n);
    await waitFor(
      "the first five each way",
      () => textsFrom(ra, bob).length === 5 && textsFrom(rb, alice).length === 5,
    );

    // Sends in flight as the server goes down...
    for (let n = 6; n <= 10; n++) say(n);
    await server.kill(signal);
    await waitFor("both clients notice", () => a.status.state !== "online" && b.status.state !== "online");
    // ...and sends made while it is down: queued.
    for (let n = 11; n <= 13; n++) say(n);
    assert.ok(a.pendingSends >= 3 && b.pendingSends >= 3, "queued while offline");

    server = await spawn({ DUET_STORE: store, DUET_PORT: port });
    await Promise.all([onlineOn(a, ta), onlineOn(b, tb)]);
    const stored = await Promise.all(sends);
    assert.equal(stored.length, 26);

    const expected = (p: string) => Array.from({ length: 13 }, (_, i) => `${p}${i + 1}`);
    await waitFor(
      "everything each way",
      () => textsFrom(ra, bob).length >= 13 && textsFrom(rb, alice).length >= 13,
    );
    assert.deepEqual(textsFrom(rb, alice), expected("a"), "bob got alice's messages once each, in order");
    assert.deepEqual(textsFrom(ra, bob), expected("b"), "alice got bob's messages once each, in order");
    await waitFor(
      "own sends echoed",
      () => textsFrom(ra, alice).length >= 13 && textsFrom(rb, bob).length >= 13,
    );
    assert.deepEqual(textsFrom(ra, alice), expected("a"));
    assert.deepEqual(textsFrom(rb, bob), expected("b"));
    for (const r of [ra, rb]) {
      assert.equal(new Set(r.messages.map((m) => m.id)).size, r.messages.length, "no event twice");
      assert.deepEqual(r.resets, [{ reason: "initial", seq: 0 }], "resumed from the cursor, no reset");
    }
    const history = await api(
      server.url,
      await tokenFor(alice),
      "GET",
      `/v1/conversations/${bob}/messages?limit=200`,
    );
    const texts = (history.body.messages as { text: string }[]).map((m) => m.text).sort();
    assert.deepEqual(
      texts,
      [...expected("a"), ...expected("b")].sort(),
      "the server stored each message once",
    );
    a.close();
    b.close();
    await server.kill("SIGTERM");
  });
}
