/**
 * Half-open links, server side: a connection whose bytes stop both ways with no FIN or RST (the
 * chaos proxy's black hole) is found by the server's heartbeats and freed, and the user resumes
 * from its cursor on a new connection with nothing lost.
 *
 * No timing assertions: each test waits, with a deadline of many intervals, for the hub to drop
 * the connection. Without heartbeat detection it would never drop (nothing else ever tells the
 * server), so the deadline only bounds how long a failure takes to show.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ChaosProxy } from "../helpers/chaos-proxy.js";
import { API_KEY, api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { StreamReader, until, type WireEvent, WsReader } from "./wire.js";

const PING_MS = 250;
const DEADLINE = 60 * PING_MS + 20_000;

describe("half-open links are found and freed by the server", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  const setup = async (env: Record<string, string>) => {
    const duet = await startDuet(env);
    const proxy = await ChaosProxy.start({ target: { port: duet.port } });
    cleanup.push(
      () => duet.close(),
      () => proxy.close(),
    );
    return { duet, proxy };
  };

  test("WebSocket: an unanswered ping frees a black-holed connection; the client resumes", async (t) => {
    const { duet, proxy } = await setup({ DUET_WS_PING_MS: String(PING_MS) });
    const token = await tokenFor("ho-ws");
    const ws = await WsReader.open(`${proxy.url}/v1/ws`, token);
    cleanup.push(() => ws.close());
    const hello = await ws.next((f) => f.op === "hello", DEADLINE, "hello");
    // Several intervals pass with the link healthy: pings are answered, the connection stays.
    await until(
      () => ws.frames.length > 0 && duet.chat.hub.connectionsByTransport().ws === 1,
      DEADLINE,
      "ws",
    );
    const sentBefore = await sendTo(duet, "ho-ws", "before the black hole");
    await ws.next((f) => isMessage(f, sentBefore), DEADLINE, "message before");

    const [link] = [...proxy.links];
    const t0 = Date.now();
    link!.blackhole();
    const lost = await sendTo(duet, "ho-ws", "sent into the black hole");
    await until(() => duet.chat.hub.connectionsByTransport().ws === 0, DEADLINE, "server frees the ws");
    t.diagnostic(`freed after ${Date.now() - t0} ms with DUET_WS_PING_MS=${PING_MS}`);
    // The client heard nothing: no close frame, no FIN, no RST crossed.
    assert.equal(ws.closed, false);
    assert.ok(!ws.frames.some((f) => isMessage(f, lost)));

    // It gives up (as the SDK does on missing heartbeats) and resumes from its cursor: the
    // message sent into the black hole arrives, once.
    ws.close();
    const lastSeq = Math.max(
      hello.seq as number,
      ...ws.frames.filter((f) => typeof f.seq === "number").map((f) => f.seq as number),
    );
    const resumed = await WsReader.open(`${proxy.url}/v1/ws?since=${lastSeq}&epoch=${hello.epoch}`, token);
    cleanup.push(() => resumed.close());
    await resumed.next((f) => isMessage(f, lost), DEADLINE, "the lost message after resume");
    assert.equal(resumed.frames.filter((f) => isMessage(f, lost)).length, 1);
    assert.ok(!resumed.frames.some((f) => isMessage(f, sentBefore)));
  });

  for (const [name, path, kind] of [
    ["SSE", "/v1/events", "sse"],
    ["NDJSON streaming", "/v1/stream", "stream"],
  ] as const) {
    test(`${name}: a keep-alive that cannot leave by the next one frees a black-holed stream`, async (t) => {
      // The buffer limit is set far above what this test queues, so only the heartbeat rule can
      // close the stream: SSE/NDJSON have no way back from the client, so what the server can see
      // is its own writes no longer leaving once the socket buffers between it and the dead peer
      // are full. This test fills them (about 4 MB on loopback) and then stops sending.
      const { duet, proxy } = await setup({
        DUET_STREAM_PING_MS: String(PING_MS),
        DUET_BUFFER_LIMIT: String(256 * 1024 * 1024),
        DUET_MAX_TEXT_LENGTH: "60000",
        DUET_BODY_LIMIT: "131072",
      });
      const user = `ho-${kind}`;
      const token = await tokenFor(user);
      const stream = await StreamReader.open(proxy.url + path, token);
      cleanup.push(() => stream.close());
      const hello = await stream.next((e) => e.type === "hello", DEADLINE, "hello");
      await until(() => stream.lines.length >= 4, DEADLINE, "a few keep-alives on a healthy link");
      assert.equal(duet.chat.hub.connectionsByTransport()[kind], 1, "a healthy stream stays open");

      const [link] = [...proxy.links];
      link!.blackhole();
      const big = "x".repeat(59_000);
      const ids: string[] = [];
      for (let i = 0; i < 200 && duet.chat.hub.connectionsByTransport()[kind] === 1; i++) {
        ids.push(await sendTo(duet, user, `${i} ${big}`));
      }
      const t0 = Date.now();
      await until(
        () => duet.chat.hub.connectionsByTransport()[kind] === 0,
        DEADLINE,
        `server frees the ${kind}`,
      );
      t.diagnostic(`sent ${ids.length} × 59 kB; freed ${Date.now() - t0} ms after the last send`);
      assert.equal(stream.ended, false, "the client heard nothing");

      // Resume from the last seq the client saw: every message arrives, once, in order.
      stream.close();
      const seen = stream.events.filter((e) => typeof e.seq === "number").map((e) => e.seq as number);
      const since = Math.max(hello.seq as number, ...seen);
      const resumed = await StreamReader.open(
        `${proxy.url}${path}?since=${since}&epoch=${hello.epoch}`,
        token,
      );
      cleanup.push(() => resumed.close());
      const lastId = ids.at(-1)!;
      await resumed.next((e) => e.type === "message" && messageIdOf(e) === lastId, DEADLINE, "resume");
      const got = [...stream.events, ...resumed.events].filter((e) => e.type === "message").map(messageIdOf);
      assert.deepEqual(got, ids);
    });
  }
});

function messageIdOf(e: WireEvent | Record<string, unknown>): string {
  return (e.message as { id: string }).id;
}

function isMessage(f: Record<string, unknown>, id: string): boolean {
  return f.type === "message" && messageIdOf(f) === id;
}

async function sendTo(duet: TestServer, to: string, text: string): Promise<string> {
  const res = await api(duet.url, API_KEY, "POST", "/v1/admin/messages", { to, text, from: "ho-sender" });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return (res.body.message as { id: string }).id;
}
