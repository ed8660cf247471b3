/**
 * Issue 14, item 7: a hand-written EventSource keeps the URL its page built, `?epoch=` included.
 * Once that epoch is stale the client is reset once; the SSE ids then name the new epoch
 * (`<epoch>:<seq>`), so the browser's own reconnects (Last-Event-ID) resume in it, with nothing
 * lost or repeated, instead of being reset again on every reconnect.
 */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SseClient, waitUntil } from "../helpers/clients.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";

let server: TestServer;

before(async () => {
  server = await startDuet();
});

after(() => server.close());

async function send(token: string, to: string, text: string): Promise<void> {
  const res = await api(server.url, token, "POST", "/v1/messages", { to, text });
  assert.equal(res.status, 201);
}

function texts(client: SseClient): string[] {
  return client.events.filter((e) => e.type === "message").map((e) => (e.message as { text: string }).text);
}

test("a stale ?epoch= is reset once; reconnects then resume by Last-Event-ID in the new epoch", async () => {
  const alice = await tokenFor("stale-alice");
  const bob = await tokenFor("stale-bob");
  await send(alice, "stale-bob", "before");
  const client = new SseClient(server.url, bob, { since: 0, epoch: "an-old-epoch", autoReconnect: true });
  try {
    await waitUntil("the reset", () => client.events.some((e) => e.type === "reset"));
    const epoch = server.chat.epoch;
    for (const [i, text] of ["after-1", "after-2"].entries()) {
      client.dropSocket();
      await waitUntil(`reconnection ${i + 1}`, () => client.opens >= i + 2);
      await waitUntil(
        `hello ${i + 2}`,
        () => client.events.filter((e) => e.type === "hello").length >= i + 2,
      );
      await send(alice, "stale-bob", text);
      await waitUntil(text, () => texts(client).includes(text));
    }
    assert.equal(client.events.filter((e) => e.type === "reset").length, 1);
    assert.deepEqual(texts(client), ["after-1", "after-2"]);
    // The browser resumed with ids naming the new epoch, whatever its URL said.
    const resumedWith = client.sentLastEventIds.slice(1);
    assert.equal(resumedWith.length, 2);
    for (const id of resumedWith) assert.match(id ?? "", new RegExp(`^${epoch}:\\d+$`));
  } finally {
    await client.close();
  }
});

test("ids stay plain seqs while the URL's epoch is the store's, and a plain Last-Event-ID still resumes", async () => {
  const alice = await tokenFor("plain-alice");
  const bob = await tokenFor("plain-bob");
  const client = new SseClient(server.url, bob, { since: 0, epoch: server.chat.epoch, autoReconnect: true });
  try {
    await client.ready();
    await send(alice, "plain-bob", "one");
    await waitUntil("one", () => texts(client).includes("one"));
    client.dropSocket();
    await waitUntil("reconnection", () => client.opens >= 2);
    await send(alice, "plain-bob", "two");
    await waitUntil("two", () => texts(client).includes("two"));
    assert.deepEqual(client.sentLastEventIds.slice(1), ["1"]);
    assert.equal(client.events.filter((e) => e.type === "reset").length, 0);
    assert.deepEqual(texts(client), ["one", "two"]);
  } finally {
    await client.close();
  }
});

test("a Last-Event-ID naming another epoch than the store's is reset, and a malformed one is a 400", async () => {
  const bob = await tokenFor("wiped-bob");
  const client = new SseClient(server.url, bob, { lastEventId: "gone-epoch:7" });
  try {
    await waitUntil("the reset", () => client.events.some((e) => e.type === "reset"));
  } finally {
    await client.close();
  }
  const res = await fetch(`${server.url}/v1/events`, {
    headers: { authorization: `Bearer ${bob}`, "last-event-id": "epoch:with:colons" },
  });
  assert.equal(res.status, 400);
  await res.body?.cancel();
});
