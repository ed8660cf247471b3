/**
 * `npm run bench:scale`: the scaling curve of issue 19 (target 5). W1 (closed loop, 1,000 paired
 * users, 4 in flight each, peers on different processes) on duet with 1, 2 and 4 workers on one
 * Redis and on a Redis Cluster of 3 masters, each against Socket.IO with the Redis adapter (its
 * sharded variant on the cluster) at the same worker count, and duet on SQLite (one process) as
 * the reference row. Every case is one `bench/run.ts` invocation (fresh servers and a fresh Redis
 * each time; duet and Socket.IO alternate inside it); the cases of a run go one after another and
 * runs repeat the whole list, so the medians are of interleaved runs.
 *
 *   npm run bench:scale -- [--runs 1] [--seconds 15] [--workers 1,2,4] [--stores redis,redis-cluster]
 */
import { spawn } from "node:child_process";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { at } from "../test/helpers/kit.js";
import type { RunResult } from "./report.js";
import { ensureBuilt, ROOT } from "./servers.js";
import { median } from "./stats.js";

const USAGE = `Usage: npm run bench:scale -- [options]

  --runs N          runs of the whole case list; the table shows medians (default 1)
  --seconds S       measured seconds per case (default 15; about 6-7 minutes for --runs 1)
  --warmup S        warm-up seconds per case (default 2)
  --users N         W1 users, in pairs (default 1000)
  --inflight K      messages in flight per user (default 4)
  --workers LIST    worker counts (default 1,2,4)
  --stores LIST     redis, redis-cluster or both (default redis,redis-cluster)
  --no-socketio     duet only
  --no-sqlite       leave out the SQLite reference row
  --help
`;

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "1" },
    seconds: { type: "string", default: "15" },
    warmup: { type: "string", default: "2" },
    users: { type: "string", default: "1000" },
    inflight: { type: "string", default: "4" },
    workers: { type: "string", default: "1,2,4" },
    stores: { type: "string", default: "redis,redis-cluster" },
    "no-socketio": { type: "boolean", default: false },
    "no-sqlite": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});

function fail(message: string): never {
  process.stderr.write(`bench:scale: ${message}\n\n${USAGE}`);
  process.exit(2);
}
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const positive = (name: string, value: string | undefined, float = false) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (!float && !Number.isInteger(n)))
    fail(`--${name} must be a positive number`);
  return n;
};
const runs = positive("runs", flags.runs);
const seconds = positive("seconds", flags.seconds, true);
const warmup = positive("warmup", flags.warmup, true);
const users = positive("users", flags.users);
const inflight = positive("inflight", flags.inflight);
const workerCounts = (flags.workers ?? "").split(",").map((w) => positive("workers", w));
const stores = (flags.stores ?? "").split(",");
if (!stores.every((s) => s === "redis" || s === "redis-cluster")) fail("--stores takes redis, redis-cluster");

interface Case {
  store: string;
  workers: number;
  compare: boolean;
}
const cases: Case[] = [];
if (!flags["no-sqlite"]) cases.push({ store: "sqlite", workers: 1, compare: false });
for (const workers of workerCounts)
  for (const store of stores) cases.push({ store, workers, compare: !flags["no-socketio"] });

const log = (line: string) => process.stderr.write(`${line}\n`);

/** One `bench/run.ts` invocation: its run lines, and whether it reported a failure. */
function runCase(c: Case): Promise<{ results: RunResult[]; ok: boolean }> {
  const args = [
    "--import",
    "tsx",
    "bench/run.ts",
    "--workload",
    "w1",
    "--store",
    c.store,
    "--workers",
    String(c.workers),
    "--users",
    String(users),
    "--inflight",
    String(inflight),
    "--warmup",
    String(warmup),
    "--seconds",
    String(seconds),
    ...(c.compare ? ["--compare", "socketio"] : []),
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    for (const line of d.toString().split("\n")) if (line.trim() !== "") log(`    ${line}`);
  });
  // A case that hangs (a server that never answers, a Redis that never forms a cluster) must not
  // hold the whole curve: SIGTERM lets run.ts stop its servers and Redis nodes, SIGKILL follows.
  const limitMs = (2 * (warmup + seconds) + 240) * 1000 * (c.compare ? 2 : 1);
  const timer = setTimeout(() => {
    log(`    timed out after ${limitMs / 1000} s: stopping this case`);
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 20_000).unref();
  }, limitMs);
  return new Promise((resolve) => {
    child.on("exit", (code) => {
      clearTimeout(timer);
      const results = stdout
        .split("\n")
        .filter((line) => line.startsWith("BENCH_JSON "))
        .map((line) => JSON.parse(line.slice("BENCH_JSON ".length)) as RunResult & { kind: string })
        .filter((line) => line.kind === "run");
      resolve({ results, ok: code === 0 });
    });
  });
}

interface Row {
  target: string;
  store: string;
  workers: number;
  runs: RunResult[];
  m: Record<string, number>;
}

const SUMMED = new Set(["lost", "duplicated", "outOfOrder", "errors", "undrained", "disconnects"]);

function rows(results: RunResult[]): Row[] {
  const byKey = new Map<string, Row>();
  for (const r of results) {
    const key = `${r.target} ${r.store} ${r.workers}`;
    let row = byKey.get(key);
    if (!row) {
      row = { target: r.target, store: r.store, workers: r.workers, runs: [], m: {} };
      byKey.set(key, row);
    }
    row.runs.push(r);
  }
  for (const row of byKey.values()) {
    const names = new Set(row.runs.flatMap((r) => Object.keys(r.metrics)));
    for (const name of names) {
      const values = row.runs.map((r) => r.metrics[name]).filter((v): v is number => typeof v === "number");
      if (values.length > 0)
        row.m[name] = SUMMED.has(name) ? values.reduce((a, b) => a + b, 0) : median(values);
    }
  }
  return [...byKey.values()];
}

const fixed = (digits: number) => (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? "-" : v.toFixed(digits);
const int = (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? "-" : Math.round(v).toLocaleString("en-US");

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => at(r, i).length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(at(widths, i)) : c.padStart(at(widths, i)))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

async function main(): Promise<void> {
  ensureBuilt(log);
  const cores = cpus().length;
  log(
    `bench:scale: ${cases.length} case(s) × ${runs} run(s), ${seconds} s measured each, on ${cores} CPUs (${cpus()[0]?.model ?? "?"})`,
  );
  const results: RunResult[] = [];
  let failed = 0;
  const started = Date.now();
  for (let run = 1; run <= runs; run++) {
    for (const c of cases) {
      log(`run ${run}/${runs}: ${c.store} ×${c.workers}${c.compare ? " (duet, then Socket.IO)" : ""}`);
      const { results: got, ok } = await runCase(c);
      if (!ok) failed++;
      results.push(...got.map((r) => ({ ...r, run })));
    }
  }
  const all = rows(results);
  // msgs/s against the same server and store with one worker: what the extra processes bought.
  const oneWorker = (row: Row) =>
    all.find((o) => o.target === row.target && o.store === row.store && o.workers === 1)?.m.msgsPerSec;
  // Socket.IO's row on the same Redis (run.ts names its store after the adapter).
  const adapterOf: Record<string, string> = {
    redis: "redis-adapter",
    "redis-cluster": "redis-cluster-sharded-adapter",
  };
  const peer = (row: Row) =>
    row.target === "duet"
      ? all.find(
          (o) => o.target === "socketio" && o.workers === row.workers && o.store === adapterOf[row.store],
        )
      : undefined;
  const order = (row: Row) =>
    (row.store === "sqlite" ? 0 : row.store.startsWith("redis-cluster") ? 2 : 1) * 1000 +
    row.workers * 10 +
    (row.target === "duet" ? 0 : 1);
  all.sort((a, b) => order(a) - order(b));
  const out: string[] = [""];
  const medians = runs > 1 ? `, medians of ${runs} interleaved runs` : ", one run";
  out.push(`Scaling curve, W1 (${users} users, ${inflight} in flight each, ${seconds} s${medians})`);
  out.push(
    table(
      [
        "server",
        "store",
        "workers",
        "msgs/s",
        "× 1 worker",
        "p99 ms",
        "lost+dup+ooo",
        "busy cores",
        "µs/msg",
        "msgs/s per core",
        "redis µs/msg",
        "redis cmds/msg",
        "redis B/msg",
        "loadgen cores",
        "apart",
        "µs/msg ÷ Socket.IO",
        "msgs/s ÷ Socket.IO",
      ],
      all.map((row) => {
        const m = row.m;
        const base = oneWorker(row);
        const other = peer(row);
        return [
          row.target,
          row.store,
          String(row.workers),
          int(m.msgsPerSec),
          base ? `×${((m.msgsPerSec ?? Number.NaN) / base).toFixed(2)}` : "-",
          fixed(0)(m.p99Ms),
          int((m.lost ?? 0) + (m.duplicated ?? 0) + (m.outOfOrder ?? 0)),
          fixed(2)(m.serverCores),
          fixed(1)(m.usPerMsg),
          int(m.capacityPerCore),
          fixed(1)(m.redisUsPerMsg),
          fixed(1)(m.redisCmdsPerMsg),
          int(m.redisBytesPerMsg),
          fixed(2)(m.loadgenCores),
          m.peersApart === undefined ? "-" : `${(m.peersApart * 100).toFixed(0)}%`,
          other ? `×${((m.usPerMsg ?? Number.NaN) / (other.m.usPerMsg ?? Number.NaN)).toFixed(2)}` : "",
          other ? `×${((m.msgsPerSec ?? Number.NaN) / (other.m.msgsPerSec ?? Number.NaN)).toFixed(2)}` : "",
        ];
      }),
    ),
  );
  // Where the Redis commands go, per delivered message (INFO commandstats of the last run).
  out.push("", "Redis commands per delivered message (last run; commands run by scripts count too):");
  for (const row of all) {
    const calls = row.runs.at(-1)?.redisCallsPerMsg;
    if (!calls) continue;
    const top = Object.entries(calls)
      .filter(([command]) => command !== "info") // the bench's own readings
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([command, n]) => `${command} ${n.toFixed(2)}`)
      .join(", ");
    out.push(`  ${row.target} ${row.store} ×${row.workers}: ${top}`);
  }
  out.push(
    "",
    `busy cores: CPU of the server's processes (every worker and every redis-server) per second of the window;`,
    "µs/msg: that CPU per delivered message, the per-core cost; msgs/s per core = 1e6 / µs/msg.",
    `This machine has ${cores} CPUs shared by the servers, Redis and the load generator: once busy cores plus`,
    "loadgen cores reach the CPU count, more workers cannot raise msgs/s and the curve flattens (on 2 cores, early).",
    "What carries to a bigger machine is the per-core cost: µs/msg and msgs/s per core, and how they move with workers.",
    `(${((Date.now() - started) / 60_000).toFixed(1)} min)`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
  for (const row of all) {
    process.stdout.write(
      `BENCH_JSON ${JSON.stringify({ kind: "scale", target: row.target, store: row.store, workers: row.workers, runs: row.runs.length, metrics: row.m })}\n`,
    );
  }
  if (failed > 0)
    log(`FAILED: ${failed} case(s) reported lost, duplicated or reordered messages, or did not run`);
  process.exit(failed > 0 ? 1 : 0);
}

main().catch((err: unknown) => {
  log(`bench:scale: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
