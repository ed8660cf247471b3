/**
 * The WebSocket frames of one turn leave together (one buffer per connection per turn): a burst
 * of sends is answered and delivered intact and in order, whatever the frames' sizes and
 * characters, and a close decided in the same turn as some frames reaches the client after them.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { WsClient } from "../helpers/clients.js";
import { startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";

let server: TestServer;

before(async () => {
  server = await startDuet({ DUET_SEND_RATE: "10000", DUET_SEND_BURST: "10000" });
});

after(() => server.close());

async function ws(user: string): Promise<WsClient> {
  const client = new WsClient(server.url, await tokenFor(user));
  await client.ready();
  return client;
}

test("a burst of sends of every size is answered and delivered intact, in order", async () => {
  const alice = await ws("batch-alice");
  const bob = await ws("batch-bob");
  try {
    const texts: string[] = [];
    for (let i = 0; i < 300; i++) {
      const char = at(["a", "é", "€", "😀"], i % 4);
      texts.push(`${i}:${char.repeat(at([1, 60, 130, 1000, 1990], i % 5))}`);
    }
    // All in one go: the server stores them in a few batches and answers each batch in one turn.
    for (const [i, text] of texts.entries()) {
      alice.ws.send(JSON.stringify({ op: "send", ref: `r${i}`, to: "batch-bob", text }));
    }
    await bob.waitForSeq(texts.length);
    await alice.waitForSeq(texts.length);
    // A batch's events and its answers are separate frames: the last event may be read before
    // the last answers are (ws hands frames over one by one), so wait for every answer too.
    await alice.waitFor(
      "every answer",
      () => alice.frames.filter((f) => f.op === "result").length >= texts.length,
    );
    const results = alice.frames.filter((f) => f.op === "result");
    assert.deepEqual(
      results.map((f) => [f.ref, (f.message as { text: string }).text]),
      texts.map((text, i) => [`r${i}`, text]),
    );
    for (const client of [alice, bob]) {
      const events = client.stored();
      assert.deepEqual(
        events.map((e) => e.seq),
        texts.map((_, i) => i + 1),
      );
      assert.deepEqual(
        events.map((e) => (e.message as { text: string }).text),
        texts,
      );
    }
    assert.ok(alice.frames.every((f) => f.op !== "error"));
  } finally {
    alice.abort();
    bob.abort();
  }
});

test("frames written in the same turn as a close reach the client before the close", async () => {
  const carol = await ws("batch-carol");
  try {
    for (let i = 0; i < 5; i++) {
      server.chat.hub.publishEvent("batch-carol", null, JSON.stringify({ type: "typing", from: `t${i}` }));
    }
    server.chat.disconnect("batch-carol");
    const ended = await carol.closed;
    assert.equal(ended.code, 4010);
    assert.deepEqual(
      carol.ofType("typing").map((e) => e.from),
      ["t0", "t1", "t2", "t3", "t4"],
    );
  } finally {
    carol.abort();
  }
});
