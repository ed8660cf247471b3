/**
 * Jitter (issue 7), the short version of `bench/jitter.ts`: SDK clients behind chaos proxies, each
 * transport forced in turn and then automatic selection (all at once here, each with its own
 * users); every client is cut for 2 s every 10-15 s while every user sends its peer a numbered
 * message every 200 ms through the SDK, connected or not. Every message must arrive exactly once
 * and in order, and be stored once.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { formatJitterTable, runJitter } from "../../bench/jitter.js";
import { API_KEY, startDuet, type TestServer } from "../helpers/duet.js";

let duet: TestServer;
before(async () => {
  duet = await startDuet();
});
after(async () => {
  await duet.close();
});

test("every message arrives exactly once and in order through 2 s cuts, on every transport", async (t) => {
  const users = 6;
  const rows = await runJitter(
    { url: duet.url, apiKey: API_KEY, port: duet.port },
    {
      users,
      durationMs: 15_000,
      transports: ["ws", "sse", "stream", "longpoll", "poll", "auto"],
      concurrent: true,
      drainMs: 120_000,
    },
  );
  t.diagnostic(`\n${formatJitterTable(rows)}`);
  for (const row of rows) {
    const label = `${row.transport}: ${JSON.stringify(row)}`;
    assert.ok(row.sent > 0, label);
    assert.ok(row.cuts >= users, `every client was cut at least once: ${label}`);
    assert.equal(row.sendFailures, 0, label);
    assert.equal(row.delivered, row.sent, label);
    assert.equal(row.duplicates, 0, label);
    assert.equal(row.outOfOrder, 0, label);
    assert.equal(row.storedDuplicates, 0, label);
    assert.equal(row.resets, 0, label);
  }
  // Forced transports stayed on theirs; automatic selection stayed on the best one: a cut is not
  // a reason to give up WebSocket (the SDK gives a transport that worked a second chance).
  for (const row of rows) {
    assert.deepEqual(Object.keys(row.onlineOn), [row.transport === "auto" ? "ws" : row.transport]);
  }
});
