/**
 * The expiry sweeper under load (SPEC 15, issue 18): a SQLite store holding 1,000,000 messages of
 * which 10% expire within the same minute; a steady send load runs for a while before they
 * expire (no sweep: the baseline) and again while the sweeper erases them. Reports the send
 * latency (p50/p99, from store.send to its commit) in both windows, the process CPU of each
 * window (the sweeper's share is the difference, the load being the same), and how long the
 * sweeper took to erase everything after the last message expired.
 *
 * Seeding goes through the store itself (SqliteStore.send, thousands per transaction); the
 * expiring 10% are sent last, as fast as they can be, in conversations given a 60 s ttl.
 *
 *   npm run bench:sweep -- [--messages 1000000] [--expiring 0.1] [--rate 1000] [--seconds 20]
 */

import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ExpirySweeper, MIN_TTL_S } from "../src/core/expiry.js";
import type { SendInput } from "../src/core/types.js";
import { SqliteExpiry } from "../src/stores/sqlite/expiry.js";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { sleep } from "../test/helpers/kit.js";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "1000000" },
    expiring: { type: "string", default: "0.1" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "20" },
    pairs: { type: "string", default: "1000" },
  },
});
const N = Number(values.messages);
const EXPIRING = Math.round(N * Number(values.expiring));
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const PAIRS = Number(values.pairs);
// One pair in ten has the ttl: the expiring messages are theirs.
const TTL_PAIRS = Math.max(1, Math.round(PAIRS * Number(values.expiring)));

const log = (line: string) => process.stdout.write(`${line}\n`);

const text = (from: string, to: string, i: number): SendInput => ({
  from,
  to,
  kind: "text",
  text: `message ${i}: some text of an ordinary length, as people write them in a chat`,
  image: null,
  links: [],
  clientMsgId: null,
});

const path = join(mkdtempSync(join(tmpdir(), "duet-sweep-")), "duet.db");
const store = new SqliteStore({ path, retention: { maxEvents: 10_000, maxAgeMs: 30 * 86_400_000 } });
const expiry = new SqliteExpiry(store);

/** Sends `count` messages over `pairs` (pair k: a<k> <-> b<k>, from `first`), 5,000 per transaction. */
async function seed(count: number, first: number, pairs: number, offset: number): Promise<void> {
  for (let wave = 0; wave < count; wave += 5000) {
    const sends = [];
    for (let i = wave; i < Math.min(count, wave + 5000); i++) {
      const k = first + (i % pairs);
      sends.push(
        store.send(i % 2 === 0 ? text(`a${k}`, `b${k}`, offset + i) : text(`b${k}`, `a${k}`, offset + i)),
      );
    }
    await Promise.all(sends);
  }
}

const seedStart = performance.now();
await seed(N - EXPIRING, TTL_PAIRS, PAIRS - TTL_PAIRS, 0);
log(`seeded ${N - EXPIRING} plain messages in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
for (let k = 0; k < TTL_PAIRS; k++) await expiry.setTtl(`a${k}`, `b${k}`, MIN_TTL_S);
const burst = performance.now();
const firstExpiry = Date.now() + MIN_TTL_S * 1000;
await seed(EXPIRING, 0, TTL_PAIRS, N);
const lastExpiry = Date.now() + MIN_TTL_S * 1000;
log(
  `seeded ${EXPIRING} expiring messages (ttl ${MIN_TTL_S} s) in ${((performance.now() - burst) / 1000).toFixed(1)} s: ` +
    `they expire within ${((lastExpiry - firstExpiry) / 1000).toFixed(1)} s of each other`,
);
log(`total ${await store.countMessages()} messages, file ${(statSync(path).size / 1e6).toFixed(0)} MB`);

/** A steady open-loop send load for `seconds` on pairs that do not expire: each send's latency (ms). */
async function load(
  seconds: number,
  during?: () => boolean,
): Promise<{ latencies: number[]; cpuMs: number }> {
  const latencies: number[] = [];
  const pending: Promise<unknown>[] = [];
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((RATE * tickMs) / 1000));
  const cpu = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  let i = 0;
  let next = performance.now();
  while (performance.now() < end && (during === undefined || during())) {
    for (let j = 0; j < perTick; j++) {
      const k = TTL_PAIRS + (i % (PAIRS - TTL_PAIRS));
      const start = performance.now();
      pending.push(
        store.send(text(`a${k}`, `b${k}`, i++)).then(() => latencies.push(performance.now() - start)),
      );
    }
    next += tickMs;
    await sleep(Math.max(0, next - performance.now()));
  }
  await Promise.all(pending);
  const used = process.cpuUsage(cpu);
  return { latencies, cpuMs: (used.user + used.system) / 1000 };
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const summary = (name: string, r: { latencies: number[]; cpuMs: number }, seconds: number) =>
  log(
    `${name}: ${r.latencies.length} sends in ${seconds.toFixed(1)} s, p50 ${pct(r.latencies, 50).toFixed(2)} ms, ` +
      `p99 ${pct(r.latencies, 99).toFixed(2)} ms, process CPU ${(r.cpuMs / 1000).toFixed(2)} s`,
  );

// Baseline: the same load, before anything has expired (nothing to sweep).
const baselineSeconds = Math.min(SECONDS, Math.max(1, (firstExpiry - Date.now()) / 1000 - 2));
const baseline = await load(baselineSeconds);
summary("without sweep", baseline, baselineSeconds);

await sleep(Math.max(0, lastExpiry - Date.now() + 100));
let erased = 0;
let sweepDone = 0;
const sweepStart = performance.now();
const sweeper = new ExpirySweeper(expiry, {
  intervalMs: 1000,
  onTick: (n) => {
    erased += n;
    if (erased >= EXPIRING && sweepDone === 0) sweepDone = performance.now();
  },
});
// The first tick at once (a process that has been running ticks every interval anyway).
const first = sweeper.tick();
sweeper.start();
const during = await load(SECONDS);
await first;
summary("while sweeping", during, SECONDS);
while (erased < EXPIRING && performance.now() - sweepStart < 120_000) await sleep(100);
await sweeper.stop();
const tookS = ((sweepDone || performance.now()) - sweepStart) / 1000;
log(
  `sweeper: erased ${erased} of ${EXPIRING} in ${tookS.toFixed(1)} s after the last expiry; ` +
    `extra process CPU while sweeping (same load): ${((during.cpuMs - baseline.cpuMs * (SECONDS / baselineSeconds)) / 1000).toFixed(2)} s`,
);

// The sweeper alone, on a quiet store: its CPU per erased message.
const quiet = await (async () => {
  const more = Math.min(EXPIRING, 20_000);
  await seed(more, 0, TTL_PAIRS, 2 * N);
  await sleep(MIN_TTL_S * 1000 + 200);
  const cpu = process.cpuUsage();
  const start = performance.now();
  let n = 0;
  for (;;) {
    const r = await expiry.sweep(Date.now(), 500);
    n += r.erased;
    if (!r.more) break;
  }
  const used = process.cpuUsage(cpu);
  return { n, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - start };
})();
log(
  `sweeper alone: ${quiet.n} messages in ${(quiet.wallMs / 1000).toFixed(2)} s wall, ` +
    `${(quiet.cpuMs / 1000).toFixed(2)} s CPU (${((quiet.cpuMs * 1000) / Math.max(1, quiet.n)).toFixed(1)} µs per message)`,
);
await store.close();
