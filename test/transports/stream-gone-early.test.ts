/**
 * A client that goes while its SSE/NDJSON request is being admitted (token check, admission:
 * awaited work) has closed its response before `serveStream` runs. The stream must not be opened
 * then: the response's `close` has already fired, so nothing would ever stop it, and it would hold
 * a place in the hub (and count against the user's connection limit) for good.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { Chat } from "../../src/core/chat.js";
import { Hub } from "../../src/core/hub.js";
import { LocalBroker } from "../../src/core/local-broker.js";
import { LocalPresence } from "../../src/core/local-presence.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { serveStream } from "../../src/transports/http-stream.js";
import { sleep } from "../helpers/kit.js";

let store: SqliteStore;
let chat: Chat;
let server: Server;
let port: number;
/** Each request's response, once its client is known to have gone (or at once, for "stay"). */
let onRequest: (req: IncomingMessage, res: ServerResponse) => void = () => {};

before(async () => {
  store = new SqliteStore({ path: ":memory:", retention: { maxEvents: 1000, maxAgeMs: 86_400_000 } });
  const presence = new LocalPresence();
  const hub = new Hub(new LocalBroker(), presence, { maxConnectionsPerUser: 5, heartbeatMs: {} });
  chat = new Chat(store, hub, presence, { sendRate: 1000, sendBurst: 1000 });
  server = createServer((req, res) => onRequest(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  chat.close();
  await store.close();
});

/** Sends a stream request and resets the connection; resolves with the server's response once it has closed. */
function goneRequest(): Promise<ServerResponse> {
  return new Promise((resolve) => {
    onRequest = (_req, res) => {
      if (res.destroyed) resolve(res);
      else res.once("close", () => resolve(res));
    };
    const socket = connect(port, "127.0.0.1", () => {
      socket.write("GET /v1/sse HTTP/1.1\r\nHost: duet.test\r\n\r\n", () => {
        // Only once the server has the request: then it is gone while being admitted.
        setTimeout(() => socket.resetAndDestroy(), 50);
      });
    });
    socket.on("error", () => {});
  });
}

for (const kind of ["sse", "stream"] as const) {
  test(`${kind}: a client gone before its stream opens leaves no stream in the hub`, {
    timeout: 10_000,
  }, async () => {
    const res = await goneRequest();
    await serveStream(chat, res, { user: `gone-${kind}`, cursor: {} }, kind, 1 << 20);
    await sleep(50);
    assert.equal(chat.connectionsByTransport()[kind], 0);
  });
}

test("a client still there gets its stream (and it goes when the client does)", async () => {
  const opened = new Promise<ServerResponse>((resolve) => {
    onRequest = (_req, res) => resolve(res);
  });
  const socket = connect(port, "127.0.0.1", () =>
    socket.write("GET /v1/sse HTTP/1.1\r\nHost: duet.test\r\n\r\n"),
  );
  socket.on("error", () => {});
  const res = await opened;
  await serveStream(chat, res, { user: "stays", cursor: {} }, "sse", 1 << 20);
  assert.equal(chat.connectionsByTransport().sse, 1);
  socket.resetAndDestroy();
  for (let i = 0; i < 100 && chat.connectionsByTransport().sse > 0; i++) await sleep(20);
  assert.equal(chat.connectionsByTransport().sse, 0);
});
