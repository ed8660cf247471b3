/**
 * Issue 3, item 5: the WebSocket protocol (ops with `ref` answers, errors for bad frames without
 * dropping the connection, 1009 for an oversized frame, 1008 for a flood) and the heartbeats of
 * the three streaming transports, with the intervals shortened so the test can watch them.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect, HttpStreamClient, WsClient, waitUntil } from "../helpers/clients.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";

let server: TestServer;

before(async () => {
  server = await startDuet({
    DUET_BODY_LIMIT: "4096",
    DUET_WS_PING_MS: "200",
    DUET_STREAM_PING_MS: "200",
  });
});

after(() => server.close());

async function ws(user: string, options: ConstructorParameters<typeof WsClient>[2] = {}): Promise<WsClient> {
  const client = new WsClient(server.url, await tokenFor(user), options);
  await client.ready();
  return client;
}

function code(frame: Record<string, unknown>): string {
  return (frame.error as { code: string }).code;
}

describe("ops", () => {
  test("send, read, typing and ping are answered by ref", async () => {
    const alice = await ws("op-alice");
    const bob = await ws("op-bob");
    try {
      const sent = await alice.request({ op: "send", to: "op-bob", text: "hello", clientMsgId: "c1" });
      assert.equal(sent.op, "result");
      const message = sent.message as Record<string, unknown>;
      assert.equal(message.text, "hello");
      assert.equal(message.from, "op-alice");
      assert.equal(message.clientMsgId, "c1");
      await bob.waitForSeq(1);
      assert.deepEqual(bob.stored()[0], { type: "message", seq: 1, message });
      // Idempotent: the same clientMsgId returns the original and stores nothing.
      const again = await alice.request({ op: "send", to: "op-bob", text: "hello", clientMsgId: "c1" });
      assert.deepEqual(again.message, message);

      const typing = await bob.request({ op: "typing", to: "op-alice" });
      assert.equal(typing.op, "result");
      await alice.waitFor("typing", () => alice.ofType("typing").length === 1);

      const read = await bob.request({ op: "read", peer: "op-alice", upTo: message.id });
      assert.deepEqual(read, { op: "result", ref: read.ref, upTo: message.id });
      await alice.waitFor("read receipt", () => alice.ofType("read").length === 1);

      const ping = await alice.request({ op: "ping" });
      assert.equal(ping.op, "result");
      assert.equal(typeof ping.pong, "number");
      const before = alice.frames.length;
      alice.ws.send('{"op":"ping"}');
      await alice.waitFor("pong", () => alice.framesAfter(before).some((f) => f.op === "pong"));
      assert.equal(bob.stored().length, 2, "the repeat stored nothing: bob has the message and his read");
    } finally {
      alice.abort();
      bob.abort();
    }
  });

  test("a failing op is answered with an error carrying its ref, and the connection stays", async () => {
    const client = await ws("op-errors");
    try {
      const cases: [Record<string, unknown>, string][] = [
        [{ op: "send", to: "someone" }, "invalid_input"],
        [{ op: "send", to: "op-errors", text: "me" }, "self_message"],
        [{ op: "send", to: "../etc", text: "x" }, "invalid_input"],
        [{ op: "send", to: "someone", text: "x".repeat(4001) }, "invalid_input"],
        [{ op: "read", peer: "someone", upTo: "not-an-id" }, "invalid_input"],
        [{ op: "typing" }, "invalid_input"],
        [{ op: "typing", to: "op-errors" }, "self_message"],
        [{ op: "fly", to: "someone" }, "invalid_input"],
      ];
      for (const [frame, expected] of cases) {
        const answer = await client.request(frame);
        assert.equal(answer.op, "error", JSON.stringify(frame));
        assert.equal(code(answer), expected, JSON.stringify(frame));
        assert.equal(typeof (answer.error as { message: string }).message, "string");
      }
      assert.equal(client.ended, undefined);
      assert.equal((await client.request({ op: "ping" })).op, "result");
    } finally {
      client.abort();
    }
  });

  test("bad frames get an error frame, not a close: bad JSON, non-objects, unknown op, bad ref, binary", async () => {
    const client = await ws("op-bad-frames");
    try {
      const bad: [string | Buffer, string][] = [
        ["{not json", "invalid_json"],
        ["", "invalid_json"],
        ["[1,2]", "invalid_input"],
        ['"send"', "invalid_input"],
        ["42", "invalid_input"],
        ["null", "invalid_input"],
        ['{"op":"nope"}', "invalid_input"],
        ['{"op":"ping","ref":7}', "invalid_input"],
        [`{"op":"ping","ref":"${"r".repeat(65)}"}`, "invalid_input"],
        [Buffer.from([0xff, 0x00, 0x01]), "invalid_input"],
      ];
      for (const [data, expected] of bad) {
        const before = client.frames.length;
        client.ws.send(data, { binary: Buffer.isBuffer(data) });
        await client.waitFor(`an answer to ${String(data)}`, () => client.frames.length > before);
        const answer = at(client.frames, before);
        assert.equal(answer.op, "error", String(data));
        assert.equal(code(answer), expected, String(data));
        assert.equal(answer.ref, undefined);
      }
      assert.equal(client.ended, undefined, "still connected");
      assert.equal((await client.request({ op: "ping" })).op, "result");
    } finally {
      client.abort();
    }
  });

  test("a frame larger than the body limit closes with 1009", async () => {
    const client = await ws("op-big");
    client.ws.send(JSON.stringify({ op: "send", to: "x", text: "y".repeat(5000) }));
    const ended = await client.closed;
    assert.equal(ended.code, 1009);
  });

  test("a flood of frames closes with 1008", async () => {
    const client = await ws("op-flood");
    for (let i = 0; i < 2000 && client.ws.readyState === client.ws.OPEN; i++) client.ws.send('{"op":"ping"}');
    const ended = await client.closed;
    assert.equal(ended.code, 1008);
    assert.equal(ended.reason, "rate_limited");
  });

  test("an upgrade without a valid token or with a bad cursor is refused with its HTTP status", async () => {
    const noToken = new WsClient(server.url, "", {});
    assert.equal((await noToken.closed).code, 401);
    const badToken = new WsClient(server.url, "x.y.z", {});
    assert.equal((await badToken.closed).code, 401);
    const badCursor = new WsClient(server.url, await tokenFor("op-cursor"), { epoch: "../../x" });
    assert.equal((await badCursor.closed).code, 400);
    const res = await api(server.url, await tokenFor("op-cursor"), "GET", "/v1/ws");
    assert.equal(res.status, 400, "a plain GET of the WebSocket endpoint");
  });
});

describe("heartbeats", () => {
  test("the server pings; a peer that answers stays, one that does not (or stops reading) is dropped", async () => {
    const answering = await ws("hb-answers");
    const silent = await ws("hb-silent", { ws: { autoPong: false } });
    const stalled = await ws("hb-stalled");
    stalled.pause();
    try {
      const silentEnd = await silent.closed;
      assert.equal(silentEnd.code, 1006, "terminated without a close frame");
      assert.ok(silent.pings >= 1, "it was pinged before being dropped");
      await waitUntil("the stalled peer's connection is dropped", () =>
        server.chat.hub.all().every((l) => l.user !== "hb-stalled"),
      );
      // The answering peer has been pinged through several sweeps meanwhile and is still here.
      await answering.waitFor("several pings", () => answering.pings >= 4);
      assert.equal(answering.ended, undefined);
      assert.equal((await answering.request({ op: "ping" })).op, "result");
      assert.ok(server.chat.hub.all().some((l) => l.user === "hb-answers"));
      stalled.resume();
      assert.equal((await stalled.closed).code, 1006);
    } finally {
      answering.abort();
      silent.abort();
      stalled.abort();
    }
  });

  test("SSE sends a comment line and NDJSON a ping line on the keep-alive interval", async () => {
    const token = await tokenFor("hb-streams");
    const sse = new HttpStreamClient(server.url, token, "sse");
    const ndjson = new HttpStreamClient(server.url, token, "ndjson");
    try {
      await Promise.all([sse.ready(), ndjson.ready()]);
      await Promise.all([
        sse.waitFor("': ping' comments", () => sse.pings >= 3),
        ndjson.waitFor('{"type":"ping"} lines', () => ndjson.pings >= 3),
      ]);
      assert.match(sse.contentType, /^text\/event-stream/);
      assert.match(ndjson.contentType, /^application\/x-ndjson/);
      // Keep-alives are not events: only the hello was recorded.
      assert.deepEqual(
        [sse.events.map((e) => e.type), ndjson.events.map((e) => e.type)],
        [["hello"], ["hello"]],
      );
    } finally {
      sse.abort();
      ndjson.abort();
    }
  });

  test("a keep-alive does not disturb an event stream: events and pings interleave cleanly", async () => {
    const token = await tokenFor("hb-mixed");
    const sender = await tokenFor("hb-mixed-sender");
    const stream = await connect("stream", server.url, token);
    try {
      for (let i = 0; i < 10; i++) {
        await api(server.url, sender, "POST", "/v1/messages", { to: "hb-mixed", text: `m${i}` });
      }
      await stream.waitForSeq(10);
      await stream.waitFor("a ping after the events", () => stream.pings >= 2);
      assert.equal(stream.stored().length, 10);
    } finally {
      stream.abort();
    }
  });
});
