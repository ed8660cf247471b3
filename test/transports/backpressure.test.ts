/**
 * Issue 3, item 6: a consumer that stops reading does not grow the server's memory past the
 * per-connection buffer. Three connections of one user (WebSocket, SSE, NDJSON) stop reading
 * while 50,000 events are stored for that user. The test watches the server's own end of each
 * TCP connection (every write on it, through the running server object) and asserts its
 * user-space buffer never exceeds DUET_BUFFER_LIMIT plus one event; each connection is closed;
 * reconnecting from the cursor each client had, every event arrives exactly once.
 */
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, before, test } from "node:test";
import { ChaosProxy } from "../helpers/chaos-proxy.js";
import {
  consecutive,
  HttpStreamClient,
  open,
  type TestClient,
  type TransportName,
  WsClient,
  waitUntil,
} from "../helpers/clients.js";
import { startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";

const BUFFER_LIMIT = 256 * 1024;
const EVENTS = 50_000;

let server: TestServer;
/** The server's end of each TCP connection, by the client's port, with the most it ever buffered. */
const serverEnds = new Map<number, { socket: Socket; maxBuffered: number; writes: number }>();

before(async () => {
  server = await startDuet({
    DUET_BUFFER_LIMIT: String(BUFFER_LIMIT),
    DUET_RETENTION_EVENTS: String(EVENTS * 2),
    // Only the buffer limit may end these connections, not a missed heartbeat.
    DUET_WS_PING_MS: "600000",
    DUET_STREAM_PING_MS: "600000",
  });
  server.http.on("connection", (socket: Socket) => {
    const end = { socket, maxBuffered: 0, writes: 0 };
    serverEnds.set(socket.remotePort as number, end);
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    (socket as unknown as { write: (...args: unknown[]) => boolean }).write = (...args) => {
      const ok = write(...args);
      end.writes++;
      end.maxBuffered = Math.max(end.maxBuffered, socket.writableLength);
      return ok;
    };
  });
});

after(() => server.close());

function serverEnd(client: TestClient) {
  assert.equal(client.localPorts.length, 1);
  const end = serverEnds.get(at(client.localPorts, 0));
  assert.ok(end, `the server's end of ${client.transport}'s connection`);
  return end;
}

/** Stores `count` system messages for `user` through the chat service, a thousand at a time. */
async function flood(user: string, count: number): Promise<void> {
  for (let done = 0; done < count; done += 1000) {
    const batch: Promise<unknown>[] = [];
    for (let i = done; i < Math.min(count, done + 1000); i++) {
      batch.push(
        server.chat.sendSystem({
          from: "system",
          to: user,
          kind: "system",
          text: `flood ${i}`,
          image: null,
          links: [],
          clientMsgId: null,
        }),
      );
    }
    await Promise.all(batch);
  }
}

test("ws, sse and ndjson consumers that stop reading are cut at the buffer limit and resume losing nothing", async () => {
  const user = "slow-reader";
  const token = await tokenFor(user);
  const stuck = [
    new WsClient(server.url, token),
    new HttpStreamClient(server.url, token, "sse"),
    new HttpStreamClient(server.url, token, "ndjson"),
  ];
  const resumed: TestClient[] = [];
  try {
    await Promise.all(stuck.map((c) => c.ready()));
    for (const c of stuck) c.pause();

    await flood(user, EVENTS);
    await waitUntil("every stuck connection closed by the server", () =>
      server.chat.hub.all().every((l) => l.user !== user),
    );

    // Read what each had been sent before the cut, up to the end of its connection.
    for (const c of stuck) c.resume();
    await Promise.all(stuck.map((c) => c.closed));

    const largestEvent = Math.max(...stuck.flatMap((c) => c.stored().map((e) => JSON.stringify(e).length)));
    for (const c of stuck) {
      const end = serverEnd(c);
      assert.ok(c.stored().length < EVENTS, `${c.transport} did not get everything before the cut`);
      assert.ok(end.maxBuffered > BUFFER_LIMIT / 2, `${c.transport}: the buffer filled (${end.maxBuffered})`);
      // One event over the limit at most: the write that crossed it, framing included.
      assert.ok(
        end.maxBuffered <= BUFFER_LIMIT + largestEvent + 64,
        `${c.transport}: buffered ${end.maxBuffered} > ${BUFFER_LIMIT} + ${largestEvent}`,
      );
    }

    // Each comes back on its own transport from its own cursor and gets the rest, exactly once.
    for (const c of stuck) {
      const transport: TransportName = c.transport === "sse" ? "sse" : c.transport;
      const again = open(transport, server.url, token, { ...c.cursor });
      resumed.push(again);
    }
    await Promise.all(resumed.map((c) => c.waitForSeq(EVENTS, 120_000)));
    stuck.forEach((c, i) => {
      const all = [...c.stored(), ...at(resumed, i).stored()];
      assert.equal(consecutive(all, 1, EVENTS), null, c.transport);
    });
  } finally {
    for (const c of [...stuck, ...resumed]) c.abort();
  }
});

test("a client resuming a backlog over a slow link is paced by the replay, not cut as slow", async () => {
  // 3,000 events (~0.8 MB per connection) through a link capped at 1 MB/s with a 256 KiB buffer
  // limit: a replay that wrote pages as fast as the store reads them would cross the limit.
  const user = "slow-link";
  const token = await tokenFor(user);
  await flood(user, 3000);
  const proxy = await ChaosProxy.start({ target: { port: server.port }, bytesPerSecond: 1_000_000 });
  const clients = (["ws", "sse", "stream"] as const).map((t) =>
    open(t, proxy.url, token, { since: 0, epoch: server.chat.store.epoch }),
  );
  try {
    await Promise.all(clients.map((c) => c.waitForSeq(3000, 60_000)));
    for (const c of clients) {
      assert.equal(c.ended, undefined, `${c.transport} was not cut`);
      assert.equal(consecutive(c.stored(), 1, 3000), null, c.transport);
    }
  } finally {
    for (const c of clients) c.abort();
    await proxy.close();
  }
});
