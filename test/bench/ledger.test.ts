/** The bench's own checks: if these were wrong, a smoke run reporting zero losses would mean nothing. */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { WebSocketServer } from "ws";
import { type BenchClient, type ClientHooks, createClient, createContext } from "../../bench/clients.js";
import { Ledger } from "../../bench/ledger.js";
import { BitSet, median, quantile, Samples } from "../../bench/stats.js";
import { sleep } from "../helpers/kit.js";

test("Ledger counts duplicates, reorderings, strangers and losses", () => {
  const ledger = new Ledger(true);
  ledger.pair("a", "b");
  for (const seq of [1, 2, 3, 4, 5]) ledger.accept("a", seq);
  assert.equal(ledger.receive("b", "a", 1, null), "new");
  assert.equal(ledger.receive("b", "a", 3, null), "new"); // 2 skipped
  assert.equal(ledger.receive("b", "a", 2, null), "new"); // late
  assert.equal(ledger.receive("b", "a", 3, null), "duplicate");
  assert.equal(ledger.receive("b", "c", 1, null), "stranger");
  assert.equal(ledger.duplicated, 1);
  assert.equal(ledger.outOfOrder, 3); // 3 after 1, 2 after 3, the stranger
  assert.equal(ledger.received, 3);
  assert.equal(ledger.lost(), 2); // 4 and 5 never arrived
  assert.ok(ledger.notes.length > 0);
});

test("Ledger without strict order checks the server's ids only", () => {
  const ledger = new Ledger(false);
  ledger.pair("a", "b");
  ledger.accept("a", 2);
  ledger.accept("a", 1);
  ledger.receive("b", "a", 2, "01A");
  ledger.receive("b", "a", 1, "01B"); // sent order differs, stored order holds: fine over HTTP
  assert.equal(ledger.outOfOrder, 0);
  ledger.accept("a", 3);
  ledger.receive("b", "a", 3, "01AA"); // an id that sorts before the last one
  assert.equal(ledger.outOfOrder, 1);
  assert.equal(ledger.lost(), 0);
});

test("BitSet, quantile, median and Samples", () => {
  const a = new BitSet();
  const b = new BitSet();
  for (const i of [0, 7, 8, 1000]) a.add(i);
  b.add(7);
  assert.ok(a.has(1000) && !a.has(999) && !b.has(5000));
  assert.equal(a.countMissingFrom(b), 3);
  assert.equal(b.countMissingFrom(a), 0);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2);
  assert.equal(quantile([1, 2, 3, 4], 0.99), 4);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  const samples = new Samples();
  for (let i = 100_000; i >= 1; i--) samples.add(i);
  const s = samples.summary();
  assert.equal(s.p50, 50_000);
  assert.equal(s.p99, 99_000);
  assert.equal(s.max, 100_000);
  assert.equal(s.samples, 100_000);
});

class Recorder implements ClientHooks {
  messages: string[] = [];
  anomalies: string[] = [];
  message(_to: BenchClient, from: string, text: string) {
    this.messages.push(`${from}:${text}`);
  }
  accepted() {}
  failed() {}
  streamAnomaly(_at: BenchClient, detail: string) {
    this.anomalies.push(detail);
  }
  dropped() {}
}

const event = (seq: number, from: string, text: string) =>
  JSON.stringify({ type: "message", seq, message: { id: `id${seq}`, from, to: "me", text } });

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await sleep(10);
}

test("the WebSocket client reports seq gaps and repeats, and skips its own echoes", async () => {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  wss.on("connection", (ws) => {
    ws.send('{"op":"hello","user":"me","epoch":"e","seq":5}');
    for (const [seq, from] of [
      [6, "peer"],
      [7, "me"],
      [9, "peer"],
      [9, "peer"],
    ] as const) {
      ws.send(`{"op":"event",${event(seq, from, `t${seq}`).slice(1)}`);
    }
  });
  await new Promise((r) => wss.once("listening", r));
  const hooks = new Recorder();
  const port = (wss.address() as AddressInfo).port;
  const ctx = createContext({ target: "duet", url: `http://127.0.0.1:${port}`, secret: "s" }, hooks, 1);
  const client = createClient(ctx, "ws", "me");
  await client.connect();
  await until(() => hooks.messages.length === 3);
  client.close();
  wss.close();
  assert.deepEqual(hooks.messages, ["peer:t6", "peer:t9", "peer:t9"]);
  assert.deepEqual(hooks.anomalies, ["seq 9 after 7", "seq 9 after 9"]);
});

test("the SSE and NDJSON clients parse events split across chunks anywhere", async () => {
  const bodies = {
    "/v1/events": `: ping\n\ndata: {"type":"hello","user":"me","epoch":"e","seq":0}\n\nid: 1\ndata: ${event(1, "peer", "a")}\n\nid: 3\ndata: ${event(3, "peer", "b")}\n\n`,
    "/v1/stream": `{"type":"hello","user":"me","epoch":"e","seq":0}\n{"type":"ping"}\n${event(1, "peer", "a")}\n${event(3, "peer", "b")}\n`,
  };
  const server = createServer((req, res) => {
    const body = bodies[req.url as keyof typeof bodies];
    res.writeHead(200);
    // Seven bytes at a time: every boundary lands mid-line somewhere.
    let at = 0;
    const next = () => {
      if (at >= body.length) return;
      res.write(body.slice(at, at + 7));
      at += 7;
      setImmediate(next);
    };
    next();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const transport of ["sse", "stream"] as const) {
    const hooks = new Recorder();
    const ctx = createContext({ target: "duet", url, secret: "s" }, hooks, 1);
    const client = createClient(ctx, transport, "me");
    await client.connect();
    await until(() => hooks.messages.length === 2);
    client.close();
    ctx.streamAgent.destroy();
    assert.deepEqual(hooks.messages, ["peer:a", "peer:b"], transport);
    assert.deepEqual(hooks.anomalies, ["seq 3 after 1"], transport);
  }
  server.closeAllConnections();
  server.close();
});
