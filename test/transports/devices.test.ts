/**
 * Issue 3, items 4 and 8: a user on three devices over three transports gets every event on each,
 * including its own messages and reads made on another device; typing and read receipts flow
 * between two users over pairs of transports; a blocked user's typing and messages are refused
 * and nothing reaches the blocker on any transport.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  connect,
  consecutive,
  type TestClient,
  type TransportName,
  type WireEvent,
  WsClient,
  waitUntil,
} from "../helpers/clients.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";

let server: TestServer;

before(async () => {
  server = await startDuet({ DUET_SEND_RATE: "10000", DUET_SEND_BURST: "10000" });
});

after(() => server.close());

/** A long-poll of `user` is being held by the server (so an ephemeral event can reach it). */
function pollHeld(user: string): boolean {
  return server.chat.hub.all().some((l) => l.user === user && l.sink.kind === "poll");
}

async function settled(client: TestClient, user: string): Promise<void> {
  if (client.transport === "longpoll") await waitUntil(`${user}'s held long-poll`, () => pollHeld(user));
}

test("a user on three transports gets every event on each; the sender's other devices see its messages and reads", async () => {
  const [aliceToken, bobToken] = await Promise.all([tokenFor("md-alice"), tokenFor("md-bob")]);
  const bobs = await Promise.all(
    (["ws", "sse", "longpoll"] as const).map((t) => connect(t, server.url, bobToken)),
  );
  const alices = await Promise.all(
    (["stream", "ws", "poll"] as const).map((t) => connect(t, server.url, aliceToken)),
  );
  const all = [...bobs, ...alices];
  try {
    const aliceWs = alices[1] as WsClient;
    const bobWs = bobs[0] as WsClient;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      sends.push(api(server.url, aliceToken, "POST", "/v1/messages", { to: "md-bob", text: `http ${i}` }));
      sends.push(api(server.url, bobToken, "POST", "/v1/messages", { to: "md-alice", text: `reply ${i}` }));
    }
    for (let i = 0; i < 5; i++) sends.push(aliceWs.request({ op: "send", to: "md-bob", text: `ws ${i}` }));
    const answers = await Promise.all(sends);
    const wsResults = answers.slice(20) as Record<string, unknown>[];
    assert.ok(
      wsResults.every((r) => r.op === "result" && (r.message as { from: string }).from === "md-alice"),
    );
    // 25 messages so far, each in both logs; then bob reads on his WebSocket: one read event in each log.
    const lastFromAlice = (at(wsResults, 4).message as { id: string }).id;
    await Promise.all(all.map((c) => c.waitForSeq(25)));
    const read = await bobWs.request({ op: "read", peer: "md-alice", upTo: lastFromAlice });
    assert.equal(read.op, "result");
    assert.equal(read.upTo, lastFromAlice);
    await Promise.all(all.map((c) => c.waitForSeq(26)));

    for (const [who, devices] of [
      ["md-bob", bobs],
      ["md-alice", alices],
    ] as const) {
      for (const device of devices) {
        assert.equal(consecutive(device.stored(), 1, 26), null, `${who} on ${device.transport}`);
        // The same objects on every transport: one serialisation, one stream mechanism.
        assert.deepEqual(
          device.stored(),
          at(devices, 0).stored(),
          `${who}: ${device.transport} vs ${at(devices, 0).transport}`,
        );
      }
      const messages = at(devices, 0)
        .stored()
        .filter((e) => e.type === "message");
      assert.equal(messages.length, 25);
      assert.equal(messages.filter((e) => (e.message as { from: string }).from === "md-alice").length, 15);
    }
    const bobsRead = at(bobs, 1).stored().at(-1) as WireEvent;
    assert.deepEqual(bobsRead, {
      type: "read",
      seq: 26,
      peer: "md-alice",
      reader: "md-bob",
      upTo: lastFromAlice,
    });
    const alicesRead = at(alices, 0).stored().at(-1) as WireEvent;
    assert.deepEqual(alicesRead, {
      type: "read",
      seq: 26,
      peer: "md-bob",
      reader: "md-bob",
      upTo: lastFromAlice,
    });
    // Alice's WebSocket got the messages it sent itself as events too, with the ids its results carried.
    const wsIds = new Set(wsResults.map((r) => (r.message as { id: string }).id));
    const echoed = aliceWs
      .stored()
      .filter((e) => wsIds.has((e.message as { id: string } | undefined)?.id ?? ""));
    assert.equal(echoed.length, 5);
  } finally {
    for (const client of all) client.abort();
  }
});

/** Sends over the WebSocket op when the client is one, else over HTTP; either way one answer. */
async function act(
  client: TestClient,
  token: string,
  op: "send" | "typing" | "read",
  body: Record<string, unknown>,
) {
  if (client instanceof WsClient) {
    const answer = await client.request({ op, ...body });
    assert.equal(answer.op, "result", JSON.stringify(answer));
    return answer;
  }
  if (op === "send") return (await api(server.url, token, "POST", "/v1/messages", body)).body;
  if (op === "typing") return (await api(server.url, token, "POST", "/v1/typing", body)).body;
  const { peer, upTo } = body as { peer: string; upTo: string };
  return (await api(server.url, token, "POST", `/v1/conversations/${peer}/read`, { upTo })).body;
}

const PAIRS: [TransportName, TransportName][] = [
  ["ws", "sse"],
  ["sse", "stream"],
  ["stream", "longpoll"],
  ["longpoll", "ws"],
  ["ws", "ws"],
  ["poll", "sse"],
];

for (const [x, y] of PAIRS) {
  test(`typing and read receipts: ${x} <-> ${y}`, async () => {
    const a = `tr-${x}-${y}-a`;
    const b = `tr-${x}-${y}-b`;
    const [aToken, bToken] = await Promise.all([tokenFor(a), tokenFor(b)]);
    const ca = await connect(x, server.url, aToken);
    const cb = await connect(y, server.url, bToken);
    try {
      const sent = await act(ca, aToken, "send", { to: b, text: "are you there?" });
      const id = (sent.message as { id: string }).id;
      await cb.waitForSeq(1);

      // b types to a, a types to b: each sees the other's, never its own.
      if (x !== "poll") {
        await settled(ca, a);
        await act(cb, bToken, "typing", { to: a });
        await ca.waitFor("b's typing", () => ca.ofType("typing").length === 1);
        assert.deepEqual(ca.ofType("typing"), [{ type: "typing", from: b }]);
      }
      await settled(cb, b);
      await act(ca, aToken, "typing", { to: b });
      await cb.waitFor("a's typing", () => cb.ofType("typing").length === 1);
      assert.deepEqual(cb.ofType("typing"), [{ type: "typing", from: a }]);

      // b reads: a gets the receipt, b's own stream records it too.
      await settled(ca, a);
      await act(cb, bToken, "read", { peer: a, upTo: id });
      await ca.waitForSeq(2);
      assert.deepEqual(ca.stored()[1], { type: "read", seq: 2, peer: b, reader: b, upTo: id });
      await cb.waitForSeq(2);
      assert.deepEqual(cb.stored()[1], { type: "read", seq: 2, peer: a, reader: b, upTo: id });
      if (x !== "poll") assert.equal(ca.ofType("typing").length, 1, "no typing echoed back");
      assert.equal(cb.ofType("typing").length, 1);
    } finally {
      ca.abort();
      cb.abort();
    }
  });
}

test("a blocked user's typing and messages are refused and nothing reaches the blocker", async () => {
  const [pestToken, victimToken] = await Promise.all([tokenFor("pest"), tokenFor("victim")]);
  const victim = await Promise.all(
    (["ws", "sse", "stream", "longpoll"] as const).map((t) => connect(t, server.url, victimToken)),
  );
  const pestWs = (await connect("ws", server.url, pestToken)) as WsClient;
  try {
    // Before the block typing reaches the victim.
    await settled(at(victim, 3), "victim");
    await act(pestWs, pestToken, "typing", { to: "victim" });
    await waitUntil("victim's transports see typing", () =>
      victim.every((c) => c.ofType("typing").length === 1),
    );
    assert.equal((await api(server.url, victimToken, "PUT", "/v1/blocks/pest")).status, 200);

    const typing = await api(server.url, pestToken, "POST", "/v1/typing", { to: "victim" });
    assert.equal(typing.status, 403);
    assert.equal((typing.body.error as { code: string }).code, "blocked");
    const wsTyping = await pestWs.request({ op: "typing", to: "victim" });
    assert.equal(wsTyping.op, "error");
    assert.equal((wsTyping.error as { code: string }).code, "blocked");
    const send = await api(server.url, pestToken, "POST", "/v1/messages", {
      to: "victim",
      text: "let me in",
    });
    assert.equal(send.status, 403);
    assert.equal((send.body.error as { code: string }).code, "blocked");
    const wsSend = await pestWs.request({ op: "send", to: "victim", text: "let me in" });
    assert.equal((wsSend.error as { code: string }).code, "blocked");

    // A marker sent after the refusals: when it has arrived everywhere, anything the pest got
    // through would have arrived before it.
    await settled(at(victim, 3), "victim");
    await api(server.url, await tokenFor("friend"), "POST", "/v1/messages", { to: "victim", text: "marker" });
    await Promise.all(victim.map((c) => c.waitForSeq(1)));
    for (const c of victim) {
      assert.equal(c.ofType("typing").length, 1, `${c.transport}: only the typing from before the block`);
      assert.deepEqual(c.texts(), ["marker"], c.transport);
    }
    assert.equal(pestWs.stored().length, 0);
  } finally {
    for (const c of [...victim, pestWs]) c.abort();
  }
});
