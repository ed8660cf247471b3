/**
 * What a reconnect costs the server is mostly the upgrade itself: a reconnect storm is tens of
 * thousands of them at once. The 101 answer and the stream's hello leave in one write to the
 * socket (one syscall, one segment), not two.
 */
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { test } from "node:test";
import WebSocket from "ws";
import { startDuet, tokenFor } from "../helpers/duet.js";

interface Counted {
  writes: number;
  writevs: number;
}

test("a WebSocket upgrade's 101 and hello go out in one write", async () => {
  const duet = await startDuet();
  const counts: Counted[] = [];
  // Ahead of the server's own upgrade listener: count the socket's writes from the start.
  duet.http.prependListener("upgrade", (_req: IncomingMessage, socket: Socket) => {
    const counted: Counted = { writes: 0, writevs: 0 };
    counts.push(counted);
    const stream = socket as unknown as {
      _write: (...args: unknown[]) => void;
      _writev: (...args: unknown[]) => void;
    };
    const write = stream._write.bind(socket);
    const writev = stream._writev.bind(socket);
    stream._write = (...args) => {
      counted.writes++;
      write(...args);
    };
    stream._writev = (...args) => {
      counted.writevs++;
      writev(...args);
    };
  });
  try {
    for (const user of ["ann", "ben", "cat"]) {
      const ws = new WebSocket(`${duet.url.replace("http", "ws")}/v1/ws?token=${await tokenFor(user)}`);
      const hello = await new Promise<string>((resolve, reject) => {
        ws.once("message", (data) => resolve(data.toString()));
        ws.once("error", reject);
      });
      assert.match(hello, /"op":"hello"/);
      assert.deepEqual(counts.at(-1), { writes: 0, writevs: 1 }, "101 + hello in one writev");
      ws.close();
    }
    assert.equal(counts.length, 3);
  } finally {
    await duet.close();
  }
});
