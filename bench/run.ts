/**
 * `npm run bench`: starts duet (dist/cli.js, fresh store per run) and one load-generator process,
 * runs the workloads of issue 6 and prints a table and one `BENCH_JSON {...}` line per run.
 *
 *   W1 chat relay   users in pairs, K messages in flight each (closed loop): throughput, latency,
 *                   server CPU per delivered message (from /proc), loss/duplication/order checks.
 *   W2 idle         C idle authenticated connections: server RSS per connection after GC.
 *   W3 open loop    a fixed total send rate: delivery latency at a load that does not saturate.
 *
 * `--compare socketio` runs W1 and W2 against a minimal Socket.IO 4.8 relay too, interleaved
 * with duet's runs in the same invocation, and prints the ratios. See docs/PERFORMANCE.md.
 */

import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sleep } from "../test/helpers/kit.js";
import { LoadgenPool } from "./loadgen-pool.js";
import { type Placement, placement } from "./placement.js";
import { formatSummary } from "./profile-summary.js";
import type { Endpoint, Job, Target, Transport } from "./protocol.js";
import { TRANSPORTS } from "./protocol.js";
import { type RedisSide, readRedis, startRedisSide } from "./redis-side.js";
import { printSummary, type RunResult } from "./report.js";
import {
  compileEntry,
  ensureBuilt,
  fdLimits,
  ROOT,
  type ServerProcess,
  startDuet,
  startSocketIo,
  usageOf,
} from "./servers.js";

const USAGE = `Usage: npm run bench -- [options]

  --workload w1|w2|w3|all   which workloads (default w1); --workload jitter and
                            --workload storm are separate runs with flags of their own (--help)
  --transport <t>|all       ws, sse, stream, longpoll, comma-separated, or all
                            (default: ws for w1, all for w2 and w3)
  --users N                 W1/W3 users, in pairs (default 1000)
  --inflight K              W1 messages in flight per user (default 4)
  --warmup S                W1/W3 warm-up seconds (default 2)
  --seconds S               W1/W3 measured seconds (default 10)
  --rate R                  W3 total messages per second (default 5000)
  --conns C                 W2 idle connections per transport (default 10000)
  --runs N                  interleaved runs of each case; tables show medians (default 1)
  --compare socketio        also run W1 and W2 against a minimal Socket.IO 4.8 relay
  --store S                 duet's store (default sqlite): sqlite; redis (a private redis-server,
                            AOF on); redis-cluster (a private Redis Cluster of 3 masters, AOF on
                            each); or a redis:// or redis-cluster://h1:p1,h2:p2 URL (list every
                            master: Redis figures are summed over the nodes given)
  --workers N               processes on one port, for duet and for the Socket.IO relay (needs a
                            Redis store; default 1); users connect one at a time so that peers
                            land on different processes (the table's "apart" column checks it)
  --text-bytes N            message text size (default 100)
  --http-sockets N          keep-alive sockets for HTTP sends (default 256)
  --cpu-prof DIR            profile duet with node --cpu-prof into DIR and summarise each profile
  --loadgen-procs N         load-generator processes, the users split among them by pair
                            (and W3's rate with them; default 1)
  --loadgen-cpu-prof DIR    profile the load generator(s) the same way
  --duet-env KEY=VALUE      extra environment for duet, for experiments (repeatable), e.g.
                            --duet-env DUET_SQLITE_SYNC=full or --duet-env DUET_STORE=sqlite::memory:
  --help
`;

// `--workload jitter` is the bad-network workload of bench/jitter.ts (SDK clients behind a chaos
// proxy), with flags of its own.
const rawArgs = process.argv.slice(2);
if (rawArgs[rawArgs.indexOf("--workload") + 1] === "jitter") {
  const { main: jitter } = await import("./jitter.js");
  await jitter(rawArgs);
  process.exit(0);
}
// `--workload storm` is the reconnect storm of test/network/storm.ts (SDK clients in several
// load-generator processes, every connection reset at once), with flags of its own (`--help`).
if (rawArgs[rawArgs.indexOf("--workload") + 1] === "storm") {
  const { main: storm } = await import("../test/network/storm.js");
  await storm(rawArgs);
  process.exit(process.exitCode ?? 0);
}

const { values: flags } = parseArgs({
  options: {
    workload: { type: "string", default: "w1" },
    transport: { type: "string" },
    users: { type: "string", default: "1000" },
    inflight: { type: "string", default: "4" },
    warmup: { type: "string", default: "2" },
    seconds: { type: "string", default: "10" },
    rate: { type: "string", default: "5000" },
    conns: { type: "string", default: "10000" },
    runs: { type: "string", default: "1" },
    compare: { type: "string" },
    store: { type: "string", default: "sqlite" },
    workers: { type: "string", default: "1" },
    "text-bytes": { type: "string", default: "100" },
    "http-sockets": { type: "string", default: "256" },
    "cpu-prof": { type: "string" },
    "loadgen-procs": { type: "string", default: "1" },
    "loadgen-cpu-prof": { type: "string" },
    "duet-env": { type: "string", multiple: true },
    help: { type: "boolean", default: false },
  },
  strict: true,
});

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function positive(name: string, value: string | undefined, float = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (!float && !Number.isInteger(n)))
    fail(`--${name} must be a positive number`);
  return n;
}

if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

type Workload = "w1" | "w2" | "w3";
const workloads: Workload[] =
  flags.workload === "all"
    ? ["w1", "w2", "w3"]
    : (flags.workload?.split(",").map((w) => w as Workload) ?? []);
if (workloads.length === 0 || !workloads.every((w) => w === "w1" || w === "w2" || w === "w3"))
  fail("--workload must be w1, w2, w3 or all");
const transportFlag = flags.transport === "all" ? [...TRANSPORTS] : flags.transport?.split(",");
if (transportFlag !== undefined && !transportFlag.every((t) => TRANSPORTS.includes(t as Transport)))
  fail("--transport must be ws, sse, stream, longpoll (or several, comma-separated) or all");
if (flags.compare !== undefined && flags.compare !== "socketio") fail("--compare takes socketio");
const STORE = /^(sqlite|redis|redis-cluster|redis:\/\/.+|redis-cluster:\/\/.+)$/;
if (!STORE.test(flags.store ?? ""))
  fail("--store must be sqlite, redis, redis-cluster, or a redis:// or redis-cluster:// URL");

const opts = {
  users: positive("users", flags.users),
  inflight: positive("inflight", flags.inflight),
  warmup: positive("warmup", flags.warmup, true),
  seconds: positive("seconds", flags.seconds, true),
  rate: positive("rate", flags.rate),
  conns: positive("conns", flags.conns),
  runs: positive("runs", flags.runs),
  workers: positive("workers", flags.workers),
  textBytes: positive("text-bytes", flags["text-bytes"]),
  httpSockets: positive("http-sockets", flags["http-sockets"]),
  compare: flags.compare === "socketio",
  store: flags.store ?? "sqlite",
  cpuProf: flags["cpu-prof"],
  loadgenProcs: positive("loadgen-procs", flags["loadgen-procs"]),
  loadgenCpuProf: flags["loadgen-cpu-prof"],
  duetEnv: Object.fromEntries(
    (flags["duet-env"] ?? []).map((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) fail("--duet-env takes KEY=VALUE");
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  ),
};
const useRedis = opts.store !== "sqlite";
if (opts.workers > 1 && !useRedis) fail("--workers needs --store redis (SQLite is one process)");

function transportsFor(workload: Workload): Transport[] {
  if (transportFlag !== undefined) return transportFlag as Transport[];
  return workload === "w1" ? ["ws"] : [...TRANSPORTS];
}

interface Case {
  workload: Workload;
  target: Target;
  transport: Transport;
}

const cases: Case[] = [];
for (const workload of workloads) {
  for (const transport of transportsFor(workload)) {
    cases.push({ workload, target: "duet", transport });
    // The Socket.IO relay is WebSocket only; the issue compares W1 and W2.
    if (opts.compare && transport === "ws" && workload !== "w3")
      cases.push({ workload, target: "socketio", transport });
  }
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const SECRET = "bench-secret-0123456789abcdef0123456789";

const live = new Set<ServerProcess>();
process.on("exit", () => {
  for (const server of live) if (server.running) server.proc.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    for (const server of live) if (server.running) server.proc.kill("SIGKILL");
    process.exit(130);
  });
}

interface Started {
  server: ServerProcess;
  redis?: RedisSide;
  endpoint: Endpoint;
}

let entries: { loadgen: string; socketio: string; gcHook: string };

async function startTarget(target: Target, fdNeed: number): Promise<Started> {
  const redis = useRedis
    ? await startRedisSide(
        opts.store,
        (s) => live.add(s),
        (s) => live.delete(s),
      )
    : undefined;
  const redisUrl = redis?.url;
  const base = { nodeArgs: [] as string[], fdNeed, secret: SECRET, gcHook: entries.gcHook };
  let server: ServerProcess;
  try {
    if (target === "duet") {
      const nodeArgs = opts.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProf}`] : [];
      server = await startDuet({
        ...base,
        nodeArgs,
        store: redisUrl ?? "",
        workers: opts.workers,
        env: opts.duetEnv,
      });
    } else {
      server = await startSocketIo({ ...base, entry: entries.socketio, redisUrl, workers: opts.workers });
    }
  } catch (err) {
    await redis?.stop();
    throw err;
  }
  live.add(server);
  return { server, redis, endpoint: { target, url: server.url, secret: SECRET } };
}

async function stopTarget(started: Started): Promise<void> {
  await started.server.stop();
  live.delete(started.server);
  await started.redis?.stop();
}

/** duet's or the relay's processes, and every redis-server node the bench started. */
function serverPids(started: Started): number[] {
  return [...started.server.pids(), ...(started.redis?.pids ?? [])];
}

/** How the store is named in the tables: Socket.IO's side is the adapter it runs with. */
function storeLabel(target: Target): string {
  const cluster = opts.store === "redis-cluster" || opts.store.startsWith("redis-cluster://");
  if (target === "duet") return !useRedis ? "sqlite" : cluster ? "redis-cluster" : "redis";
  return !useRedis ? "none" : cluster ? "redis-cluster-sharded-adapter" : "redis-adapter";
}

function describe(c: Case): Omit<RunResult, "run" | "metrics" | "errorSamples"> {
  return {
    workload: c.workload,
    target: c.target,
    transport: c.transport,
    store: storeLabel(c.target),
    workers: opts.workers,
    ...(c.target === "duet" && Object.keys(opts.duetEnv).length > 0 ? { env: opts.duetEnv } : {}),
  };
}

/**
 * With several processes, peers belong on different ones (a message then crosses Redis, as it
 * mostly does in a deployment). Users connect one at a time, which node's round-robin spreads
 * that way; when acknowledgements between node's primary and its workers cross, a few pairs
 * still land together: their second user reconnects until it lands elsewhere (before the start).
 */
async function spreadPairs(
  started: Started,
  loadgen: LoadgenPool,
  ports: [string, number][] | undefined,
): Promise<Placement | undefined> {
  if (opts.workers < 2 || !ports || ports.length === 0) return undefined;
  const current = new Map(ports);
  let placed = placement([...current], started.server.url, started.server.pids());
  // One user at a time: several at once could keep landing on each other's old processes in
  // step, whereas one connection alone goes to the next worker in turn.
  const attempts = placed.together.length * (opts.workers + 1) + 10;
  for (let round = 0; round < attempts && placed.together.length > 0; round++) {
    const again = await loadgen.reconnect(placed.together.slice(0, 1));
    if (again.failed > 0)
      throw new Error(`${again.failed} reconnections failed: ${again.errorSamples.join("; ")}`);
    for (const [user, port] of again.ports ?? []) current.set(user, port);
    placed = placement([...current], started.server.url, started.server.pids());
  }
  if (placed.together.length > 0)
    log(`  note: ${placed.together.length} of ${placed.pairs} pairs share a process`);
  return placed;
}

/** W1 or W3 once: fresh server, connect, warm up, measure, drain, check. */
async function runTraffic(c: Case, run: number, loadgen: LoadgenPool): Promise<RunResult> {
  const started = await startTarget(c.target, opts.users + 1024);
  try {
    const job: Job =
      c.workload === "w1"
        ? {
            kind: "w1",
            endpoint: started.endpoint,
            transport: c.transport,
            users: opts.users,
            inflight: opts.inflight,
            textBytes: opts.textBytes,
            httpSockets: opts.httpSockets,
            serial: opts.workers > 1,
          }
        : {
            kind: "w3",
            endpoint: started.endpoint,
            transport: c.transport,
            users: opts.users,
            rate: opts.rate,
            textBytes: opts.textBytes,
            httpSockets: opts.httpSockets,
            serial: opts.workers > 1,
          };
    const ready = await loadgen.ready(job);
    if (ready.failed > 0)
      throw new Error(`${ready.failed} connections failed: ${ready.errorSamples.join("; ")}`);
    const placed = await spreadPairs(started, loadgen, ready.ports);
    await loadgen.request({ cmd: "start" });
    await sleep(opts.warmup * 1000);
    const pids = serverPids(started);
    const redisPids = started.redis?.pids ?? [];
    const redisNodes = started.redis?.nodes ?? [];
    const s0 = usageOf(pids);
    const r0 = usageOf(redisPids);
    const l0 = usageOf(loadgen.pids);
    const c0 = started.redis ? await readRedis(redisNodes) : undefined;
    const t0 = performance.now();
    await loadgen.request({ cmd: "mark" });
    await sleep(opts.seconds * 1000);
    const s1 = usageOf(pids);
    const r1 = usageOf(redisPids);
    const l1 = usageOf(loadgen.pids);
    const c1 = started.redis ? await readRedis(redisNodes) : undefined;
    const elapsed = (performance.now() - t0) / 1000;
    const stats = await loadgen.stats(15_000);
    await loadgen.request({ cmd: "close" });
    const rate = stats.delivered / stats.windowSec;
    const serverCpuSec = s1.cpuSec - s0.cpuSec;
    const cpuPerSec = serverCpuSec / elapsed;
    const usPerMsg = rate > 0 ? (cpuPerSec / rate) * 1e6 : Number.NaN;
    // Redis calls and bytes per delivered message (summed over every node), by command and in all.
    const perMsg = (delta: number) => (rate > 0 ? delta / (rate * elapsed) : Number.NaN);
    const redisCalls: Record<string, number> = {};
    for (const [command, calls] of Object.entries(c1?.calls ?? {})) {
      const delta = calls - (c0?.calls[command] ?? 0);
      if (delta > 0) redisCalls[command] = Number(perMsg(delta).toFixed(3));
    }
    const netIn = c0 && c1 ? perMsg(c1.netInBytes - c0.netInBytes) : undefined;
    const netOut = c0 && c1 ? perMsg(c1.netOutBytes - c0.netOutBytes) : undefined;
    return {
      ...describe(c),
      run,
      metrics: {
        msgsPerSec: rate,
        p50Ms: stats.latency.p50,
        p99Ms: stats.latency.p99,
        maxMs: stats.latency.max,
        lost: stats.lost,
        duplicated: stats.duplicated,
        outOfOrder: stats.outOfOrder,
        errors: stats.errors,
        deliveredAfterError: stats.deliveredAfterError,
        disconnects: stats.disconnects,
        serverCpuSec,
        serverCores: cpuPerSec,
        usPerMsg,
        capacityPerCore: 1e6 / usPerMsg,
        redisCpuSec: redisPids.length > 0 ? r1.cpuSec - r0.cpuSec : undefined,
        redisUsPerMsg:
          redisPids.length > 0 && rate > 0 ? ((r1.cpuSec - r0.cpuSec) / elapsed / rate) * 1e6 : undefined,
        redisNodes: started.redis ? redisNodes.length : undefined,
        redisCmdsPerMsg: started.redis ? Object.values(redisCalls).reduce((a, b) => a + b, 0) : undefined,
        // Bytes over the Redis client sockets, both directions (every process's connections).
        redisBytesPerMsg: netIn !== undefined && netOut !== undefined ? netIn + netOut : undefined,
        redisInBytesPerMsg: netIn,
        redisOutBytesPerMsg: netOut,
        peersApart: placed && placed.pairs > 0 ? placed.apart / placed.pairs : undefined,
        loadgenCpuSec: l1.cpuSec - l0.cpuSec,
        loadgenCores: (l1.cpuSec - l0.cpuSec) / elapsed,
        loadgenProcs: loadgen.size,
        serverRssBytes: s1.rssBytes,
        diskBytesPerMsg: stats.delivered > 0 ? (s1.diskWriteBytes - s0.diskWriteBytes) / (rate * elapsed) : 0,
        windowSec: stats.windowSec,
        sent: stats.sent,
        accepted: stats.accepted,
        unanswered: stats.unanswered,
        undrained: stats.undrained,
        received: stats.received,
        samples: stats.latency.samples,
      },
      errorSamples: stats.errorSamples,
      ...(started.redis ? { redisCallsPerMsg: redisCalls } : {}),
    };
  } finally {
    await stopTarget(started);
  }
}

/** Waits for RSS to stop moving after a GC: the reading W2 divides by the connections. */
async function settledMemory(started: Started): Promise<{ rss: number; heapUsed: number; external: number }> {
  let previous = -1;
  for (let i = 0; i < 20; i++) {
    started.server.collectGarbage();
    await sleep(700);
    const rss = usageOf(serverPids(started)).rssBytes;
    if (previous > 0 && Math.abs(rss - previous) < 0.002 * previous) break;
    previous = rss;
  }
  return { rss: usageOf(serverPids(started)).rssBytes, ...started.server.heap() };
}

/** W2 once: fresh server, a warm-up round of connections, then C idle ones; RSS delta / C. */
async function runIdle(c: Case, run: number, loadgen: LoadgenPool): Promise<RunResult> {
  const started = await startTarget(c.target, opts.conns + 1024);
  try {
    const job = (conns: number, userPrefix: string): Job => ({
      kind: "w2",
      endpoint: started.endpoint,
      transport: c.transport,
      conns,
      concurrency: 100,
      userPrefix,
    });
    // Code paths are compiled and pools grown once before the baseline, not charged per connection.
    await loadgen.ready(job(Math.min(500, opts.conns), "warm"));
    await loadgen.request({ cmd: "close" });
    await sleep(1000);
    const before = await settledMemory(started);
    const ready = await loadgen.ready(job(opts.conns, "idle"));
    await sleep(1000);
    const after = await settledMemory(started);
    await loadgen.request({ cmd: "close" });
    const per = (delta: number) => (ready.connected > 0 ? delta / ready.connected : Number.NaN);
    return {
      ...describe(c),
      run,
      metrics: {
        conns: ready.connected,
        failed: ready.failed,
        rssBeforeBytes: before.rss,
        rssAfterBytes: after.rss,
        bytesPerConn: per(after.rss - before.rss),
        heapBytesPerConn: per(after.heapUsed - before.heapUsed),
        externalBytesPerConn: per(after.external - before.external),
      },
      errorSamples: ready.errorSamples,
    };
  } finally {
    await stopTarget(started);
  }
}

function checkRedisStore(): void {
  if (!useRedis) return;
  // The Redis store counts as present once the store factory opens it (src/stores/open-store.ts).
  const factory = join(ROOT, "dist", "stores", "open-store.js");
  const wired = existsSync(factory) && readFileSync(factory, "utf8").includes("./redis/");
  if (!wired) {
    fail(
      "--store redis needs duet's Redis store, and src/stores/open-store.ts does not open redis:// " +
        "stores in this build yet; run the SQLite bench, or build a tree that has it.",
    );
  }
}

async function main(): Promise<void> {
  ensureBuilt(log);
  checkRedisStore();
  const [loadgenEntry, socketio, gcHook] = await Promise.all([
    compileEntry("loadgen"),
    compileEntry("socketio-server"),
    compileEntry("gc-hook"),
  ]);
  entries = { loadgen: loadgenEntry, socketio, gcHook };
  const fdNeed = Math.max(opts.users, workloads.includes("w2") ? opts.conns : 0) + 1024;
  const { soft, hard } = fdLimits();
  if (fdNeed > hard)
    log(`warning: ${fdNeed} open files needed, the hard limit is ${hard}; some connections will fail`);
  else if (fdNeed > soft) log(`raising the open-file limit to ${fdNeed} for the child processes (ulimit -n)`);
  for (const dir of [opts.cpuProf, opts.loadgenCpuProf]) if (dir) mkdirSync(dir, { recursive: true });
  const loadgen = new LoadgenPool({
    entry: loadgenEntry,
    procs: opts.loadgenProcs,
    fdNeed,
    cpuProfDir: opts.loadgenCpuProf,
  });
  process.on("exit", () => loadgen.kill());
  log(
    `bench: ${cases.length} case(s) × ${opts.runs} run(s) on ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), node ${process.version}`,
  );
  const results: RunResult[] = [];
  let failed = false;
  for (let run = 1; run <= opts.runs; run++) {
    for (const c of cases) {
      log(`run ${run}/${opts.runs}: ${c.workload} ${c.target} ${c.transport} ...`);
      try {
        const result =
          c.workload === "w2" ? await runIdle(c, run, loadgen) : await runTraffic(c, run, loadgen);
        results.push(result);
        process.stdout.write(
          `BENCH_JSON ${JSON.stringify({ kind: "run", ...result, at: new Date().toISOString() })}\n`,
        );
      } catch (err) {
        failed = true;
        log(`  failed: ${(err as Error).message}`);
        await loadgen.request({ cmd: "close" }).catch(() => undefined);
      }
    }
  }
  await loadgen.exit();
  process.stdout.write(printSummary(results, opts));
  for (const [who, dir] of [
    ["server", opts.cpuProf],
    ["load generator", opts.loadgenCpuProf],
  ] as const) {
    if (!dir) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
      process.stdout.write(`\n${who}: ${formatSummary(join(dir, file), 30)}\n`);
    }
  }
  const broken = results.some(
    (r) => (r.metrics.lost ?? 0) + (r.metrics.duplicated ?? 0) + (r.metrics.outOfOrder ?? 0) > 0,
  );
  if (broken) log("FAILED: messages were lost, duplicated or delivered out of order (see the table)");
  const undrained = results.some((r) => (r.metrics.undrained ?? 0) > 0);
  if (undrained)
    log("FAILED: messages were still in flight when the drain gave up; loss could not be checked");
  process.exit(failed || broken || undrained ? 1 : 0);
}

main().catch((err: unknown) => {
  log(`bench: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
