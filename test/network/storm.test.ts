/**
 * Reconnect storm (issue 7): a few thousand SDK clients online through one proxy, every
 * connection reset at once, each user sending its peer a message right after; all come back with
 * the SDK's jittered backoff. Every message arrives once, every client is online again, and the
 * server's memory stays bounded. The deadline is a bound on failure, not a timing assertion: the
 * time it took is reported (`t.diagnostic`) and measured properly by `test/network/storm.ts`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runStorm } from "./storm.js";

const CLIENTS = 2_000;

test(`reconnect storm: ${CLIENTS} WebSocket clients cut at once all come back, nothing lost`, async (t) => {
  const r = await runStorm({ clients: CLIENTS, transport: "ws", settleMs: 120_000 });
  t.diagnostic(JSON.stringify(r));
  assert.notEqual(r.allOnlineMs, null, "every client online again");
  assert.notEqual(r.allDeliveredMs, null, "every message delivered");
  assert.equal(r.delivered, r.sent);
  assert.equal(r.duplicates, 0);
  assert.equal(r.serverConnections, CLIENTS, "the server holds exactly the live connections");
  // Bounded memory: the storm may not cost the server more than 128 kB per client at its peak.
  assert.ok(
    r.rssPeakMb - r.rssBeforeMb <= (CLIENTS * 128) / 1024,
    `RSS ${r.rssBeforeMb} → ${r.rssPeakMb} MB`,
  );
});
