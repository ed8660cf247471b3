/**
 * Issue 3, items 1 and 3: the five transports serve the same events from the one EventStream —
 * hello, stored events with seq, ephemeral typing, reset for a cursor that is too old, from
 * another epoch, or from the future — and a stored event is pushed at once, with every server
 * timer (pings, keep-alives, the long-poll deadline) set far beyond the test's patience.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  connect,
  consecutive,
  type PollClient,
  pollOnce,
  sendMany,
  type TestClient,
  TRANSPORTS,
  waitUntil,
} from "../helpers/clients.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";

let server: TestServer;

before(async () => {
  server = await startDuet({
    DUET_RETENTION_EVENTS: "20",
    DUET_SEND_RATE: "10000",
    DUET_SEND_BURST: "10000",
    // No server timer may be what delivers an event: pings and poll deadlines are 10 minutes away.
    DUET_WS_PING_MS: "600000",
    DUET_STREAM_PING_MS: "600000",
    DUET_MAX_POLL_SECONDS: "600",
  });
});

after(() => server.close());

const OTHER_EPOCH = "00000000-0000-4000-8000-000000000000";

/** A long-poll of `user` is held by the server: only a push can answer it now. */
function pollHeld(user: string): boolean {
  return server.chat.hub.all().some((l) => l.user === user && l.sink.kind === "poll");
}

for (const transport of TRANSPORTS) {
  describe(`${transport}`, () => {
    const alice = `alice-${transport}`;
    const bob = `bob-${transport}`;
    let aliceToken: string;
    let bobToken: string;
    const clients: TestClient[] = [];
    const open = async (options: Parameters<typeof connect>[3] = {}) => {
      const client = await connect(transport, server.url, bobToken, { pollTimeout: 600, ...options });
      clients.push(client);
      return client;
    };

    before(async () => {
      aliceToken = await tokenFor(alice);
      bobToken = await tokenFor(bob);
    });
    after(async () => {
      for (const client of clients) client.abort();
    });

    test("hello, stored events pushed at once with seq, typing, read", async () => {
      const client = await open();
      if (transport === "longpoll" || transport === "poll") {
        const first = (client as PollClient).answers[0];
        assert.deepEqual(first, { status: 200, events: [], seq: 0, epoch: server.chat.store.epoch });
      } else {
        assert.deepEqual(client.events[0], {
          type: "hello",
          user: bob,
          epoch: server.chat.store.epoch,
          seq: 0,
        });
      }
      if (transport === "longpoll") {
        // The next long-poll is held open before anything is sent: only a push can answer it.
        await waitUntil("a held long-poll", () => pollHeld(bob));
      }

      const sent = await api(server.url, aliceToken, "POST", "/v1/messages", { to: bob, text: "hi bob" });
      assert.equal(sent.status, 201);
      await client.waitFor("the message", () => client.stored().length === 1);
      assert.deepEqual(client.stored()[0], { type: "message", seq: 1, message: sent.body.message });

      if (transport !== "poll") {
        if (transport === "longpoll") {
          await waitUntil("a held long-poll", () => pollHeld(bob));
        }
        const typing = await api(server.url, aliceToken, "POST", "/v1/typing", { to: bob });
        assert.equal(typing.status, 200);
        await client.waitFor("typing", () => client.ofType("typing").length === 1);
        assert.deepEqual(client.ofType("typing")[0], { type: "typing", from: alice });
      }

      const messageId = (sent.body.message as { id: string }).id;
      const read = await api(server.url, bobToken, "POST", `/v1/conversations/${alice}/read`, {
        upTo: messageId,
      });
      assert.equal(read.status, 200);
      await client.waitFor("bob's own read event", () => client.stored().length === 2);
      assert.deepEqual(client.stored()[1], {
        type: "read",
        seq: 2,
        peer: alice,
        reader: bob,
        upTo: messageId,
      });
      assert.equal(client.cursor.since, 2);
      assert.equal(client.cursor.epoch, server.chat.store.epoch);
      // Typing is ephemeral: it carries no seq and was not stored.
      assert.equal(client.ofType("typing").filter((e) => "seq" in e).length, 0);
      await client.close();
    });

    test("resume from a cursor replays exactly what came after it, then goes live", async () => {
      const client = await open({ since: 1, epoch: server.chat.store.epoch });
      await client.waitForSeq(2);
      assert.deepEqual(
        client.stored().map((e) => [e.type, e.seq]),
        [["read", 2]],
      );
      if (transport !== "longpoll" && transport !== "poll") {
        assert.deepEqual(client.events[0], {
          type: "hello",
          user: bob,
          epoch: server.chat.store.epoch,
          seq: 2,
        });
      }
      if (transport === "longpoll") {
        await waitUntil("a held long-poll", () => pollHeld(bob));
      }
      await api(server.url, aliceToken, "POST", "/v1/messages", { to: bob, text: "again" });
      await client.waitForSeq(3);
      assert.equal(consecutive(client.stored(), 2, 3), null);
      await client.close();
    });

    test("reset for a cursor older than the retained window, then live from its seq", async () => {
      await sendMany(server.url, aliceToken, bob, 30, { parallel: 10 });
      const head = await server.chat.store.head(bob);
      assert.equal(head, 33);
      const page = await server.chat.store.eventsSince(bob, 1, 1);
      assert.equal(page.reset, true, "retention has trimmed seq 2");

      const client = await open({ since: 1, epoch: server.chat.store.epoch });
      await client.waitFor("reset", () => client.ofType("reset").length === 1);
      assert.deepEqual(client.ofType("reset")[0], {
        type: "reset",
        seq: head,
        epoch: server.chat.store.epoch,
      });
      assert.equal(client.stored().length, 0, "nothing before the reset's seq is replayed");
      if (transport === "longpoll" || transport === "poll") {
        assert.equal(at((client as PollClient).answers, 0).seq, head, "the poll answer's seq is the reset's");
      } else {
        assert.equal(at(client.events, 0).type, "hello");
      }
      if (transport === "longpoll") {
        await waitUntil("a held long-poll", () => pollHeld(bob));
      }
      await api(server.url, aliceToken, "POST", "/v1/messages", { to: bob, text: "after reset" });
      await client.waitForSeq(head + 1);
      assert.equal(consecutive(client.stored(), head + 1, head + 1), null);
      assert.deepEqual(client.texts(), ["after reset"]);
      await client.close();
    });

    test("reset for a cursor from another epoch, or ahead of the log (a wiped store)", async () => {
      const head = await server.chat.store.head(bob);
      for (const cursor of [
        { since: head, epoch: OTHER_EPOCH },
        { since: 0, epoch: OTHER_EPOCH },
        { since: head + 100, epoch: server.chat.store.epoch },
      ]) {
        const client = await open(cursor);
        await client.waitFor("reset", () => client.ofType("reset").length === 1);
        assert.deepEqual(
          client.ofType("reset")[0],
          { type: "reset", seq: head, epoch: server.chat.store.epoch },
          JSON.stringify(cursor),
        );
        assert.equal(client.stored().length, 0);
        assert.equal(client.cursor.epoch, server.chat.store.epoch);
        await client.close();
      }
    });
  });
}

test("a short poll answers at once, a long-poll waits, both with {events, seq, epoch}", async () => {
  const token = await tokenFor("poller");
  const epoch = server.chat.store.epoch;
  const now = await pollOnce(server.url, token, {}, 25);
  assert.deepEqual(now, { status: 200, events: [], seq: 0, epoch }, "without since: answers now");
  const short = await pollOnce(server.url, token, { since: 0, epoch }, 0);
  assert.deepEqual(short, { status: 200, events: [], seq: 0, epoch });
  const held = pollOnce(server.url, token, { since: 0, epoch }, 600);
  await waitUntil("the held long-poll", () => pollHeld("poller"));
  const sent = await api(server.url, await tokenFor("sender"), "POST", "/v1/messages", {
    to: "poller",
    text: "x",
  });
  assert.deepEqual(await held, {
    status: 200,
    events: [{ type: "message", seq: 1, message: sent.body.message }],
    seq: 1,
    epoch,
  });
});

test("bad cursors and timeouts are a 400 on every transport", async () => {
  const token = await tokenFor("bad-cursor");
  for (const path of ["/v1/events", "/v1/stream", "/v1/poll"]) {
    for (const q of ["since=-1", "since=abc", "since=1e3", "epoch=../x", "since=99999999999999999"]) {
      const res = await api(server.url, token, "GET", `${path}?${q}`);
      assert.equal(res.status, 400, `${path}?${q}`);
    }
  }
  const res = await api(server.url, token, "GET", "/v1/poll?since=0&timeout=-5");
  assert.equal(res.status, 400);
});
