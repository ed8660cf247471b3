/**
 * Issue 3, item 2: resume without gap or duplicate. A client is dropped abruptly (its TCP socket
 * destroyed) in the middle of a burst of 1,000 messages sent concurrently over HTTP, reconnects
 * from its cursor while the burst goes on, is dropped again and comes back to a backlog bigger
 * than one store page while more messages arrive live. Across all its connections it must have
 * seen every stored event exactly once, in seq order (the store's seqs are consecutive, so any
 * gap or repeat shows), and every message id the sender was given a 201 for.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  connect,
  consecutive,
  open,
  type SseClient,
  sendMany,
  type TestClient,
  TRANSPORTS,
  type TransportName,
  type WireEvent,
  waitUntil,
} from "../helpers/clients.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";

let server: TestServer;

before(async () => {
  server = await startDuet({ DUET_SEND_RATE: "100000", DUET_SEND_BURST: "100000" });
});

after(() => server.close());

/** Sends in the background; `sent()` tells how many got their 201 so far. */
function pump(from: string, token: string, to: string, count: number, parallel: number, prefix: string) {
  let sent = 0;
  const done = sendMany(server.url, token, to, count, { parallel, prefix, onSent: (n) => (sent = n) });
  return { done, sent: () => sent, from };
}

function messageIds(events: WireEvent[]): string[] {
  return events.filter((e) => e.type === "message").map((e) => (e.message as { id: string }).id);
}

/** Everything the connections received is every event 1..head exactly once, in order. */
function assertExactlyOnce(clients: TestClient[], head: number, sentIds: string[], label = ""): void {
  const all = clients.flatMap((c) => c.stored());
  assert.equal(consecutive(all, 1, head), null, label);
  const ids = messageIds(all);
  assert.deepEqual([...ids].sort(), [...sentIds].sort(), `${label}: every accepted message, once`);
  // One conversation: message ids sort in its order, so seq order and id order agree.
  for (let i = 1; i < ids.length; i++)
    assert.ok(at(ids, i - 1) < at(ids, i), `${label}: message order at ${i}`);
}

test("every transport, dropped mid-burst and again before a backlog, resumes with nothing lost or repeated", async () => {
  // One user with a connection on each of the five transports (five devices), all fed by the
  // same bursts. Each device drops at a different point and comes back from its own cursor.
  const aliceToken = await tokenFor("alice");
  const bobToken = await tokenFor("bob");
  const lanes = new Map<TransportName, TestClient[]>();
  for (const transport of TRANSPORTS) lanes.set(transport, [await connect(transport, server.url, bobToken)]);
  const last = (transport: TransportName) => lanes.get(transport)?.at(-1) as TestClient;
  try {
    // 1. A burst of 1,000: each connection drops after 100-420 events and comes back while the
    //    burst goes on.
    const burst = pump("alice", aliceToken, "bob", 1000, 50, "burst-");
    let burstOver = false;
    void burst.done.then(() => {
      burstOver = true;
    });
    await Promise.all(
      TRANSPORTS.map(async (transport, i) => {
        const first = last(transport);
        assert.equal(first.cursor.since, 0);
        await first.waitFor("part of the burst", () => first.stored().length >= 100 + 80 * i);
        first.abort();
        const dropped = first.cursor.since ?? 0;
        await waitUntil("messages sent while disconnected", () => burst.sent() >= dropped + 150 || burstOver);
        lanes.get(transport)?.push(await connect(transport, server.url, bobToken, { ...first.cursor }));
      }),
    );
    const burstIds = await burst.done;
    await Promise.all(TRANSPORTS.map((t) => last(t).waitForSeq(1000)));
    assert.ok(!TRANSPORTS.some((t) => lanes.get(t)?.[0]?.cursor.since === 1000), "every drop was mid-burst");

    // 2. All drop again; 550 arrive meanwhile (more than a store page and a poll answer), and 50
    //    more arrive live while they reconnect and catch up.
    for (const t of TRANSPORTS) last(t).abort();
    const backlogIds = await sendMany(server.url, aliceToken, "bob", 550, {
      parallel: 50,
      prefix: "backlog-",
    });
    const live = pump("alice", aliceToken, "bob", 50, 2, "live-");
    for (const t of TRANSPORTS) lanes.get(t)?.push(open(t, server.url, bobToken, { ...last(t).cursor }));
    const liveIds = await live.done;
    await Promise.all(TRANSPORTS.map((t) => last(t).waitForSeq(1600)));

    for (const transport of TRANSPORTS) {
      const clients = lanes.get(transport) as TestClient[];
      assert.equal(clients.length, 3);
      assert.ok(
        clients.every((c) => c.stored().length > 0),
        transport,
      );
      assertExactlyOnce(clients, 1600, [...burstIds, ...backlogIds, ...liveIds], transport);
    }
  } finally {
    for (const clients of lanes.values()) for (const c of clients) c.abort();
  }
});

test("a user switches transport between connections: ws, long-poll, sse (Last-Event-ID), stream, poll, ws", async () => {
  const sender = "switch-sender";
  const user = "switcher";
  const senderToken = await tokenFor(sender);
  const token = await tokenFor(user);
  const plan: TransportName[] = ["ws", "longpoll", "sse", "stream", "poll", "ws"];
  const clients: TestClient[] = [await connect("ws", server.url, token)];
  const flow = pump(sender, senderToken, user, 800, 10, "switch-");
  let finished = false;
  void flow.done.then(() => {
    finished = true;
  });
  try {
    for (const [i, transport] of plan.entries()) {
      const previous = clients.at(-1) as TestClient;
      if (i > 0) {
        const cursor = { ...previous.cursor };
        // SSE resumes the way a browser does: the seq in Last-Event-ID, only the epoch in the URL.
        const options =
          transport === "sse" ? { epoch: cursor.epoch, lastEventId: String(cursor.since) } : cursor;
        clients.push(await connect(transport, server.url, token, options));
      }
      const client = clients.at(-1) as TestClient;
      if (i === plan.length - 1) break;
      await client.waitFor("its share of the flow", () => client.stored().length >= 100 || finished);
      client.abort();
      const at = client.cursor.since ?? 0;
      await waitUntil("messages sent between connections", () => flow.sent() >= at + 50 || finished);
    }
    const ids = await flow.done;
    const last = clients.at(-1) as TestClient;
    await last.waitForSeq(800);
    assert.ok(
      clients.slice(0, 3).every((c) => c.stored().length > 0),
      "the flow was still going when the first connections dropped",
    );
    assertExactlyOnce(clients, 800, ids);
  } finally {
    for (const client of clients) client.abort();
  }
});

test("sse: EventSource reconnects by itself after a dropped socket and resumes with Last-Event-ID", async () => {
  const senderToken = await tokenFor("es-sender");
  const token = await tokenFor("es-user");
  const es = open("sse", server.url, token, { autoReconnect: true }) as SseClient;
  try {
    await es.ready();
    const flow = pump("es-sender", senderToken, "es-user", 300, 5, "es-");
    await es.waitFor("part of the flow", () => es.stored().length >= 50);
    es.dropSocket();
    const at = es.cursor.since ?? 0;
    await waitUntil("messages sent while it is away", () => flow.sent() >= at + 50);
    const ids = await flow.done;
    await es.waitForSeq(300);
    assert.equal(es.opens, 2, "one automatic reconnect");
    assert.equal(es.sentLastEventIds.length, 2);
    assert.equal(es.sentLastEventIds[0], null);
    assert.equal(Number(es.sentLastEventIds[1]), at, "Last-Event-ID is the last seq it got");
    assert.equal(es.ofType("hello").length, 2);
    assertExactlyOnce([es], 300, ids);
  } finally {
    es.abort();
  }
});

test("sse: Last-Event-ID wins over a stale since in the URL (a browser reconnects to the same URL)", async () => {
  const token = await tokenFor("lei-user");
  await sendMany(server.url, await tokenFor("lei-sender"), "lei-user", 5, { parallel: 1 });
  const client = await connect("sse", server.url, token, {
    since: 1,
    epoch: server.chat.store.epoch,
    lastEventId: "3",
  });
  try {
    await client.waitForSeq(5);
    assert.deepEqual(
      client.stored().map((e) => e.seq),
      [4, 5],
    );
  } finally {
    client.abort();
  }
});

for (const transport of TRANSPORTS) {
  test(`${transport}: a live event lost or reordered on its way is repaired from the store`, async () => {
    const user = `gap-${transport}`;
    const token = await tokenFor(user);
    const client = await connect(transport, server.url, token);
    try {
      const input = (text: string) => ({
        from: "gap-sender",
        to: user,
        kind: "text" as const,
        text,
        image: null,
        links: [],
        clientMsgId: null,
      });
      const event = (r: Awaited<ReturnType<typeof server.chat.store.send>>) => {
        const e = r.events.find((u) => u.user === user)?.event as { seq: number };
        return { kind: "event" as const, seq: e.seq, json: JSON.stringify(e) };
      };
      // Seq 1 is stored but its publication is lost; seq 2's arrives: the stream fetches 1 and 2.
      await server.chat.store.send(input("lost"));
      const second = await server.chat.store.send(input("arrives"));
      server.chat.hub.publish(user, event(second));
      await client.waitForSeq(2);
      // Seqs 3 and 4 are published in the wrong order: 4 fetches 3 and 4, the late 3 is dropped.
      const third = await server.chat.store.send(input("late"));
      const fourth = await server.chat.store.send(input("early"));
      server.chat.hub.publish(user, event(fourth));
      server.chat.hub.publish(user, event(third));
      await client.waitForSeq(4);
      // A last ordinary message shows nothing else was queued behind.
      await api(server.url, await tokenFor("gap-sender"), "POST", "/v1/messages", {
        to: user,
        text: "normal",
      });
      await client.waitForSeq(5);
      assert.equal(consecutive(client.stored(), 1, 5), null);
      assert.deepEqual(client.texts(), ["lost", "arrives", "late", "early", "normal"]);
    } finally {
      client.abort();
    }
  });
}
