/**
 * A smoke run of `npm run bench`: a few users for about a second, as a real child process against
 * real servers. It checks what the bench reports about correctness (nothing lost, duplicated or out
 * of order; every confirmed send received) and that its JSON lines parse. Never a timing assertion.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";

const ROOT = new URL("../../", import.meta.url);

/** The figures a run line carries (bench/report.ts); the ones the tests compute with are named. */
interface RunMetrics extends Record<string, number | undefined> {
  accepted: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  errors: number;
  disconnects: number;
  undrained: number;
  msgsPerSec: number;
  windowSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface BenchLine {
  kind: "run" | "median" | "ratio" | "scale";
  workload?: string;
  target?: string;
  transport?: string;
  store?: string;
  workers?: number;
  metrics?: RunMetrics;
  ratios?: Record<string, number>;
  errorSamples?: string[];
}

async function bench(
  args: string[],
  entry = "bench/run.ts",
): Promise<{ code: number | null; lines: BenchLine[]; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  const lines = stdout
    .split("\n")
    .filter((line) => line.startsWith("BENCH_JSON "))
    .map((line) => JSON.parse(line.slice("BENCH_JSON ".length)) as BenchLine);
  return { code, lines, output: `${stdout}\n${stderr}` };
}

const QUICK = ["--users", "6", "--inflight", "2", "--warmup", "0.3", "--seconds", "1"];

test("W1 over every transport and against Socket.IO: nothing lost, duplicated or reordered", async () => {
  const { code, lines, output } = await bench([
    "--workload",
    "w1",
    "--transport",
    "all",
    "--compare",
    "socketio",
    ...QUICK,
  ]);
  assert.equal(code, 0, output);
  const runs = lines.filter((l) => l.kind === "run");
  const seen = runs.map((r) => `${r.target} ${r.transport}`).sort();
  assert.deepEqual(seen, ["duet longpoll", "duet sse", "duet stream", "duet ws", "socketio ws"], output);
  for (const run of runs) {
    const m = run.metrics!;
    const what = `${run.target} ${run.transport}: ${JSON.stringify(run)}`;
    assert.equal(m.lost, 0, what);
    assert.equal(m.duplicated, 0, what);
    assert.equal(m.outOfOrder, 0, what);
    assert.equal(m.errors, 0, what);
    assert.equal(m.disconnects, 0, what);
    assert.ok(m.accepted > 0, what);
    // Every confirmed send arrived; a send still unanswered when the window closed may have too.
    assert.ok(m.received >= m.accepted && m.received <= m.accepted + (m.unanswered ?? 0), what);
    for (const key of ["msgsPerSec", "p50Ms", "p99Ms", "serverCpuSec", "loadgenCpuSec", "serverRssBytes"]) {
      assert.equal(typeof m[key], "number", `${key} in ${what}`);
    }
  }
  assert.equal(lines.filter((l) => l.kind === "median").length, 5, output);
  const ratio = lines.find((l) => l.kind === "ratio");
  assert.equal(typeof ratio?.ratios?.usPerMsg, "number", output);
  assert.match(output, /W1 chat relay/);
});

test("W2 and W3 run on a small scale and report per-connection memory and latency", async () => {
  const { code, lines, output } = await bench([
    "--workload",
    "w2,w3",
    "--transport",
    "ws",
    "--conns",
    "20",
    "--rate",
    "100",
    ...QUICK,
  ]);
  assert.equal(code, 0, output);
  const idle = lines.find((l) => l.kind === "run" && l.workload === "w2");
  assert.equal(idle?.metrics?.conns, 20, output);
  assert.equal(idle?.metrics?.failed, 0, output);
  assert.equal(typeof idle?.metrics?.bytesPerConn, "number", output);
  const open = lines.find((l) => l.kind === "run" && l.workload === "w3");
  assert.equal(open?.metrics?.lost, 0, output);
  assert.equal(open?.metrics?.outOfOrder, 0, output);
  // Every confirmed send arrived; a send whose confirmation was still on its way when the window
  // closed may have arrived too (the peer's event can overtake the sender's result).
  const m = open!.metrics!;
  assert.ok(m.received >= m.accepted && m.received <= m.accepted + (m.unanswered ?? 0), output);
});

test("W1 and W3 split over two load-generator processes: nothing lost, duplicated or reordered", async () => {
  const { code, lines, output } = await bench([
    "--workload",
    "w1,w3",
    "--transport",
    "ws,longpoll",
    "--loadgen-procs",
    "2",
    "--rate",
    "200",
    ...QUICK,
  ]);
  assert.equal(code, 0, output);
  const runs = lines.filter((l) => l.kind === "run");
  const seen = runs.map((r) => `${r.workload} ${r.transport}`).sort();
  assert.deepEqual(seen, ["w1 longpoll", "w1 ws", "w3 longpoll", "w3 ws"], output);
  for (const run of runs) {
    const m = run.metrics!;
    const what = `${run.workload} ${run.transport}: ${JSON.stringify(run)}`;
    assert.equal(m.loadgenProcs, 2, what);
    assert.equal(m.lost + m.duplicated + m.outOfOrder + m.errors + m.disconnects + m.undrained, 0, what);
    assert.ok(m.accepted > 0, what);
    assert.ok(m.received >= m.accepted && m.received <= m.accepted + (m.unanswered ?? 0), what);
    // Percentiles of the merged samples: one per message delivered in the window, ordered.
    assert.equal(m.samples, Math.round(m.msgsPerSec * m.windowSec), what);
    assert.ok(m.p50Ms <= m.p99Ms && m.p99Ms <= m.maxMs, what);
    assert.equal(typeof m.loadgenCores, "number", what);
  }
  assert.equal(lines.filter((l) => l.kind === "median").length, 4, output);
});

test("W1 on the Redis store with two workers, against Socket.IO with the Redis adapter", async () => {
  const { code, lines, output } = await bench([
    "--workload",
    "w1",
    "--store",
    "redis",
    "--workers",
    "2",
    "--compare",
    "socketio",
    ...QUICK,
  ]);
  assert.equal(code, 0, output);
  const runs = lines.filter((l) => l.kind === "run");
  assert.deepEqual(runs.map((r) => r.target).sort(), ["duet", "socketio"], output);
  for (const run of runs) {
    const m = run.metrics!;
    const what = JSON.stringify(run);
    assert.equal(m.lost + m.duplicated + m.outOfOrder + m.errors + m.disconnects, 0, what);
    assert.ok(m.accepted > 0, what);
    // Every confirmed send arrived; a send still unanswered when the window closed may have too.
    assert.ok(m.received >= m.accepted && m.received <= m.accepted + (m.unanswered ?? 0), what);
    assert.equal(typeof m.redisCmdsPerMsg, "number", what);
    assert.ok((m.redisBytesPerMsg ?? 0) > 0, what);
    assert.equal(m.peersApart, 1, what);
  }
});

test("W1 on a Redis Cluster of 3 masters with two workers, against Socket.IO with the sharded adapter", async () => {
  const { code, lines, output } = await bench([
    "--workload",
    "w1",
    "--store",
    "redis-cluster",
    "--workers",
    "2",
    "--compare",
    "socketio",
    ...QUICK,
  ]);
  assert.equal(code, 0, output);
  const runs = lines.filter((l) => l.kind === "run");
  assert.deepEqual(runs.map((r) => `${r.target} ${r.store}`).sort(), [
    "duet redis-cluster",
    "socketio redis-cluster-sharded-adapter",
  ]);
  for (const run of runs) {
    const m = run.metrics!;
    const what = JSON.stringify(run);
    assert.equal(m.lost + m.duplicated + m.outOfOrder + m.errors + m.disconnects + m.undrained, 0, what);
    assert.ok(m.accepted > 0, what);
    assert.ok(m.received >= m.accepted && m.received <= m.accepted + (m.unanswered ?? 0), what);
    // Summed over the 3 nodes: commands and bytes over the Redis sockets, per delivered message.
    assert.equal(m.redisNodes, 3, what);
    assert.ok((m.redisCmdsPerMsg ?? 0) > 0, what);
    assert.ok((m.redisBytesPerMsg ?? 0) > 0 && Number.isFinite(m.redisBytesPerMsg), what);
    assert.ok((m.redisCpuSec ?? -1) >= 0, what);
    // Every pair's two users on different processes (read from /proc).
    assert.equal(m.peersApart, 1, what);
  }
});

test("bench:scale: the SQLite reference row and duet and Socket.IO on Redis with two workers, one table", async () => {
  const { code, lines, output } = await bench(
    [
      "--workers",
      "2",
      "--stores",
      "redis",
      "--users",
      "6",
      "--inflight",
      "2",
      "--warmup",
      "0.3",
      "--seconds",
      "1",
    ],
    "bench/scale.ts",
  );
  assert.equal(code, 0, output);
  const rows = lines.filter((l) => l.kind === "scale");
  assert.deepEqual(rows.map((r) => `${r.target} ${r.store} ${r.workers}`).sort(), [
    "duet redis 2",
    "duet sqlite 1",
    "socketio redis-adapter 2",
  ]);
  for (const row of rows) {
    const m = row.metrics!;
    const what = JSON.stringify(row);
    assert.equal(m.lost + m.duplicated + m.outOfOrder, 0, what);
    assert.ok(m.msgsPerSec > 0 && (m.usPerMsg ?? 0) > 0, what);
    if (row.store !== "sqlite") {
      assert.ok((m.redisBytesPerMsg ?? 0) > 0, what);
      assert.equal(m.peersApart, 1, what);
    }
  }
  assert.match(output, /msgs\/s per core/);
  assert.match(output, /curve flattens/);
});

test("bad flags are refused with the usage, and --store redis --workers needs what it needs", async () => {
  const bad = await bench(["--workload", "w9"]);
  assert.equal(bad.code, 2);
  assert.match(bad.output, /--workload must be/);
  const workers = await bench(["--workers", "2"]);
  assert.equal(workers.code, 2);
  assert.match(workers.output, /--workers needs --store redis/);
});
