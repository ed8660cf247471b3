/**
 * The load generator's own HTTP/1.1 client (bench/http-client.ts) against a real node:http server:
 * the answer forms it must read (Content-Length, chunked, read-to-close), keep-alive reuse, a
 * server that closes, and a pool that queues beyond its size. And the merge of several load
 * generators' stats (bench/loadgen-pool.ts).
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { test } from "node:test";
import { type HttpAnswer, HttpPool, requestText } from "../../bench/http-client.js";
import { mergeStats } from "../../bench/loadgen-pool.js";
import type { FlowStats } from "../../bench/protocol.js";
import { sleep } from "../helpers/kit.js";

interface Server {
  url: string;
  host: string;
  /** Remote ports of the connections the server accepted, in order. */
  connections: number[];
  close(): Promise<void>;
}

async function serve(handler: http.RequestListener): Promise<Server> {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, handler);
  const connections: number[] = [];
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    connections.push(socket.remotePort ?? -1);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

function ask(pool: HttpPool, wire: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => pool.request(wire, (err, a) => (err ? reject(err) : resolve(a!))));
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

test("requests carry their headers and body; answers are read whole, whatever their framing", async () => {
  const server = await serve(async (req, res) => {
    const body = await readBody(req);
    const echo = JSON.stringify({
      method: req.method,
      url: req.url,
      auth: req.headers.authorization,
      host: req.headers.host,
      body,
    });
    if (req.url === "/chunked") {
      // No Content-Length: node sends it chunked, in three writes.
      res.writeHead(200, { "content-type": "application/json" });
      res.write(echo.slice(0, 5));
      setTimeout(() => {
        res.write(echo.slice(5, 20));
        res.end(echo.slice(20));
      }, 20);
    } else if (req.url === "/close") {
      res.writeHead(200, { connection: "close" });
      res.end(echo);
    } else {
      res.writeHead(req.method === "POST" ? 201 : 200, { "content-length": Buffer.byteLength(echo) });
      res.end(echo);
    }
  });
  const pool = new HttpPool(server.url, 1);
  try {
    const text = "é ✓ 12|34.5|xxxx";
    const post = await ask(
      pool,
      requestText(
        "POST",
        "/v1/messages",
        server.host,
        "authorization: Bearer t0k\r\ncontent-type: application/json\r\n",
        JSON.stringify({ to: "b", text }),
      ),
    );
    assert.equal(post.status, 201);
    assert.deepEqual(JSON.parse(post.body), {
      method: "POST",
      url: "/v1/messages",
      auth: "Bearer t0k",
      host: server.host,
      body: JSON.stringify({ to: "b", text }),
    });
    const chunked = await ask(pool, requestText("GET", "/chunked", server.host, ""));
    assert.equal(chunked.status, 200);
    assert.equal(JSON.parse(chunked.body).url, "/chunked");
    // All of that on one keep-alive connection.
    assert.equal(server.connections.length, 1);
    const closing = await ask(pool, requestText("GET", "/close", server.host, ""));
    assert.equal(JSON.parse(closing.body).url, "/close");
    // The server closed that one: the next request opens another and is answered.
    const after = await ask(pool, requestText("GET", "/after", server.host, ""));
    assert.equal(JSON.parse(after.body).url, "/after");
    assert.equal(server.connections.length, 2);
  } finally {
    pool.destroy();
    await server.close();
  }
});

test("a pool never opens more than its size and answers every request queued beyond it", async () => {
  let active = 0;
  let most = 0;
  const server = await serve((req, res) => {
    active++;
    most = Math.max(most, active);
    setTimeout(() => {
      active--;
      res.writeHead(200, { "content-length": Buffer.byteLength(req.url ?? "") });
      res.end(req.url);
    }, 5);
  });
  const pool = new HttpPool(server.url, 3);
  try {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => ask(pool, requestText("GET", `/r${i}`, server.host, ""))),
    );
    assert.deepEqual(
      answers.map((a) => a.body),
      Array.from({ length: 30 }, (_, i) => `/r${i}`),
    );
    assert.equal(server.connections.length, 3);
    assert.ok(most <= 3, `${most} requests at once`);
  } finally {
    pool.destroy();
    await server.close();
  }
});

test("a warmed pool has every connection open before the first request, and uses only those", async () => {
  const server = await serve((req, res) => res.end(req.url));
  const pool = new HttpPool(server.url, 4);
  try {
    await pool.warm(2);
    // The server has seen all four connections (its "connection" events may trail the client's).
    for (let i = 0; i < 1000 && server.connections.length < 4; i++) await sleep(10);
    assert.equal(server.connections.length, 4);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => ask(pool, requestText("GET", `/w${i}`, server.host, ""))),
    );
    assert.deepEqual(
      answers.map((a) => a.body),
      Array.from({ length: 12 }, (_, i) => `/w${i}`),
    );
    assert.equal(server.connections.length, 4);
  } finally {
    pool.destroy();
    await server.close();
  }
});

test("a request in flight fails when the server drops the connection, and the pool goes on", async () => {
  const server = await serve((req, res) => {
    if (req.url === "/drop") req.socket.destroy();
    else res.end("ok");
  });
  const pool = new HttpPool(server.url, 1);
  try {
    await assert.rejects(ask(pool, requestText("GET", "/drop", server.host, "")), /closed before the answer/);
    const next = await ask(pool, requestText("GET", "/next", server.host, ""));
    assert.equal(next.body, "ok");
    // A dedicated connection is refused cleanly when nothing listens.
    await server.close();
    const conn = pool.connection();
    await assert.rejects(
      new Promise((resolve, reject) =>
        conn.request(requestText("GET", "/", server.host, ""), (err, a) => (err ? reject(err) : resolve(a))),
      ),
    );
  } finally {
    pool.destroy();
  }
});

function flow(over: Partial<FlowStats>): FlowStats {
  return {
    windowSec: 10,
    delivered: 0,
    sent: 0,
    accepted: 0,
    unanswered: 0,
    undrained: 0,
    received: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    errors: 0,
    deliveredAfterError: 0,
    disconnects: 0,
    latency: { p50: 0, p99: 0, max: 0, mean: 0, samples: 0 },
    errorSamples: [],
    ...over,
  };
}

test("stats of several load generators merge: counts add up, percentiles come from all samples", () => {
  // Process A saw fast deliveries, B slow ones: a median of their medians would be neither.
  const a = flow({
    delivered: 4,
    sent: 5,
    accepted: 5,
    received: 5,
    lost: 1,
    latencySamples: Float64Array.from([1, 2, 3, 4]),
    errorSamples: ["a1"],
  });
  const b = flow({
    windowSec: 12,
    delivered: 2,
    sent: 3,
    accepted: 2,
    received: 2,
    duplicated: 2,
    latencySamples: Float64Array.from([100, 200]),
    errorSamples: ["b1"],
  });
  const merged = mergeStats([a, b]);
  assert.equal(merged.windowSec, 11);
  assert.equal(merged.delivered, 6);
  assert.equal(merged.sent, 8);
  assert.equal(merged.accepted, 7);
  assert.equal(merged.lost, 1);
  assert.equal(merged.duplicated, 2);
  assert.deepEqual(merged.errorSamples, ["a1", "b1"]);
  assert.equal(merged.latency.samples, 6);
  assert.equal(merged.latency.p50, 3);
  assert.equal(merged.latency.max, 200);
  assert.equal(merged.latency.mean, 310 / 6);
  // Without the samples there is nothing to merge percentiles from: an error, not a guess.
  assert.throws(() => mergeStats([a, flow({})]), /no latency samples/);
});
