/**
 * The reconnect storm (issue 7): many SDK clients online against one duet process, every
 * connection reset at the same instant, each user sending its peer a message right after; the
 * clients come back with the SDK's jittered backoff. Measured: how long until every client is
 * online again and every message delivered, the server's RSS and CPU (from /proc), and the
 * attempts shed with 503.
 *
 * The clients are spread over several load-generator processes (test/network/storm-worker.ts,
 * over IPC: start → ready → cut → report), so the generator is not the bottleneck: each resets
 * its own clients' TCP connections (RST) at an instant the parent names.
 *
 * Before the cut each user has received one message from its peer (a resume has something to
 * resume from). With `--compare socketio` each run is followed by the same storm against a
 * Socket.IO 4.8 relay with connection state recovery (bench/socketio-server.ts, RECOVERY=1) and
 * socket.io-client clients (storm-worker-socketio.ts); the same figures are measured for both.
 *
 * test/network/storm.test.ts runs it with a few thousand clients; for more:
 *   node --import tsx test/network/storm.ts --clients 19000 [--procs 2] [--max-connections N]
 *     [--transport ws] [--settle 60] [--cpu-prof DIR] [--runs N]
 * or `npm run bench -- --workload storm --clients 19000`.
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { compileEntry, ensureBuilt } from "../../bench/servers.js";
import type { TransportName } from "../../src/client/index.js";
import { API_KEY, childEnv, listeningUrl, SECRET, tempDbUrl } from "../helpers/duet.js";
import { freePort, sleep } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import type { FromWorker, ToWorker, WorkerReport } from "./storm-worker.js";

export type StormServer = "duet" | "socketio";

export interface StormOptions {
  clients: number;
  /** Which server (default duet): socketio is the relay with connection state recovery. */
  server?: StormServer;
  /** Load-generator processes (default: one per CPU, at least 2). */
  procs?: number;
  /** DUET_MAX_CONNECTIONS of the server (default: clients + 10%). */
  maxConnections?: number;
  transport: TransportName;
  /** How long to wait for everyone to be back and every message delivered. */
  settleMs: number;
  /**
   * The SDK's connect timeout (its default: 10 s). A load generator that runs thousands of
   * clients on a few cores can take longer than that to read answers that did arrive in time,
   * and would then give up on connections the server had accepted, and retry.
   */
  connectTimeoutMs?: number;
  /** Profile the server (node --cpu-prof) into this directory. */
  cpuProfDir?: string;
  /** Extra environment for the server. */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export interface StormResult {
  server: StormServer;
  clients: number;
  procs: number;
  maxConnections: number;
  transport: TransportName;
  /** TCP connections the generators reset at the cut, and how far apart their cuts were (ms). */
  reset: number;
  cutSpreadMs: number;
  /** From the cut until every client was online again (null: not all came back in time). */
  allOnlineMs: number | null;
  /** From the cut until every message sent after it had reached its peer. */
  allDeliveredMs: number | null;
  /** Clients' times back online: median, 90th percentile, slowest. */
  p50OnlineMs: number;
  p90OnlineMs: number;
  maxOnlineMs: number;
  /** Messages sent right after the cut, delivered, delivered twice, and given up by the SDK. */
  sent: number;
  delivered: number;
  duplicates: number;
  failedSends: number;
  /** Connection attempts the server refused with 503 overloaded during the storm. */
  shed: number;
  /** Reconnection attempts the clients made (status changes to connecting/reconnecting). */
  attempts: number;
  /** Server RSS (MB) online before the cut, at its peak during the storm, and when settled. */
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  /**
   * Server CPU seconds from the cut until every client was back and every message delivered (or
   * the settle time ran out), and the span from the cut until the report was taken, in seconds.
   */
  cpuSeconds: number;
  spanSeconds: number;
  /** The load generators' CPU seconds from the cut until all back and delivered (all processes). */
  generatorCpuSeconds: number;
  /** Clients online again when the storm was measured (all of them unless some were shed). */
  back: number;
  /**
   * Server CPU seconds spent bringing every client online the first time, in batches (each
   * token new to the server: what a storm after a restart costs, spread out).
   */
  setupCpuSeconds: number;
  /** Connections the server counted when settled. */
  serverConnections: number;
  /**
   * SYNs the kernel dropped because an accept queue was full (TcpExt ListenOverflows, this network
   * namespace, over the storm): a dropped SYN is retried by TCP only after 1 s, then 3 s, ...
   */
  listenOverflows: number;
  /** 1-minute load average when the cut happened. */
  loadAverage: number;
  /** Socket.IO only: reconnections restored by connection state recovery (`socket.recovered`). */
  recovered?: number;
  /**
   * With --cpu-prof: the cut and the moment all were back and delivered, on the monotonic clock
   * in µs (the clock of a .cpuprofile's timestamps), so the profile can be cut to the storm.
   */
  profileWindowUs?: [number, number];
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

function procStats(pid: number): { rssMb: number; cpuSeconds: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { rssMb: Math.round(rssKb / 1024), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS };
  } catch {
    return { rssMb: 0, cpuSeconds: 0 };
  }
}

/** The soft and hard open-file limits (`ulimit -Sn`, `ulimit -Hn`) of a shell started from here. */
export function fdLimits(): { soft: number; hard: number } {
  const out = execFileSync("sh", ["-c", "ulimit -Sn; ulimit -Hn"]).toString().trim().split("\n");
  const parse = (v: string | undefined) => (v === undefined || v === "unlimited" ? Infinity : Number(v));
  return { soft: parse(out[0]), hard: parse(out[1]) };
}

/**
 * `[cmd, args]` that run `command` with at least `need` open files (up to the hard limit): node
 * cannot raise its own limit, a shell can (`ulimit -n`) and then exec it, keeping inherited fds
 * (the IPC channel).
 */
function withFdLimit(command: string, args: string[], need: number): [string, string[]] {
  const { soft, hard } = fdLimits();
  if (soft >= need) return [command, args];
  return ["sh", ["-c", `ulimit -n ${Math.min(need, hard)} && exec "$@"`, "sh", command, ...args]];
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** TcpExt ListenOverflows of this network namespace (/proc/net/netstat). */
function listenOverflows(): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
  const i = lines.findIndex((l) => l.startsWith("TcpExt:"));
  const names = lines[i]?.split(" ") ?? [];
  const values = lines[i + 1]?.split(" ") ?? [];
  return Number(values[names.indexOf("ListenOverflows")] ?? 0);
}

async function overloadedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("duet_errors_total{") && l.includes('code="overloaded"'));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

async function serverConnections(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/admin/stats`, { headers: { authorization: `Bearer ${API_KEY}` } });
  const body = (await res.json()) as { connections: Record<string, number> };
  return Object.values(body.connections).reduce((a, b) => a + b, 0);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

interface Server {
  url: string;
  pid: number;
  logs: string[];
  stop(graceful: boolean): Promise<void>;
}

/**
 * duet as a process of its own: dist/cli.js when DUET_SPAWN_DIST=1 (npm test builds first) or
 * when asked, else src/cli.ts through tsx; its open-file limit raised to fit every client.
 */
async function startServer(
  kind: StormServer,
  env: Record<string, string>,
  fdNeed: number,
  nodeArgs: string[],
): Promise<Server> {
  const useDist = process.env.DUET_SPAWN_DIST === "1" && existsSync(join(ROOT, "dist", "cli.js"));
  // Plain JavaScript for both when measuring (no loader, no source maps: tsx turns them on, and
  // every reset socket's ECONNRESET error has its stack formatted by node).
  const entry =
    kind === "socketio"
      ? [await compileEntry("socketio-server")]
      : useDist
        ? ["dist/cli.js"]
        : ["--import", "tsx", "src/cli.ts"];
  const [cmd, args] = withFdLimit(process.execPath, [...nodeArgs, ...entry], fdNeed);
  const proc = spawn(cmd, args, {
    cwd: ROOT,
    env:
      kind === "socketio"
        ? { ...process.env, PORT: String(await freePort()), BENCH_SECRET: SECRET, RECOVERY: "1", ...env }
        : childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<void>((resolve) =>
    proc.once("exit", (code, signal) => {
      logs.push(`(duet exited: ${code ?? signal})`);
      resolve();
    }),
  );
  proc.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
  const url = await listeningUrl(proc, logs, exited, 200);
  // Not left behind if this process is stopped (main() turns SIGINT/SIGTERM into an exit).
  const reap = () => proc.kill("SIGKILL");
  process.once("exit", reap);
  void exited.then(() => process.off("exit", reap));
  // With `sh -c ... exec`, the shell's pid becomes node's.
  return {
    url,
    pid: proc.pid!,
    logs,
    async stop(graceful) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(graceful ? "SIGTERM" : "SIGKILL");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One load-generator process and the messages it sent us. */
class Worker {
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  online = 0;
  complete = false;
  back = 0;
  delivered = 0;
  private readonly waiters: { type: FromWorker["type"]; resolve: (m: FromWorker) => void }[] = [];
  private error: Error | null = null;

  constructor(fdNeed: number, script: string, onOnline: () => void) {
    const [cmd, args] = withFdLimit(
      process.execPath,
      [
        ...(process.env.STORM_WORKER_CPU_PROF
          ? ["--cpu-prof", `--cpu-prof-dir=${process.env.STORM_WORKER_CPU_PROF}`]
          : []),
        "--import",
        "tsx",
        fileURLToPath(new URL(script, import.meta.url)),
      ],
      fdNeed,
    );
    this.proc = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.exited = new Promise((resolve) => this.proc.once("exit", () => resolve()));
    void this.exited.then(() => this.fail(new Error("a storm worker exited")));
    this.proc.on("message", (raw) => {
      const msg = raw as FromWorker;
      if (msg.type === "online") {
        this.online = msg.count;
        onOnline();
      } else if (msg.type === "progress") {
        this.back = msg.back;
        this.delivered = msg.delivered;
      } else if (msg.type === "complete") this.complete = true;
      else if (msg.type === "error") this.fail(new Error(`storm worker: ${msg.message}`));
      const i = this.waiters.findIndex((w) => w.type === msg.type);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(msg);
    });
  }

  private fail(error: Error): void {
    this.error ??= error;
    for (const w of this.waiters.splice(0)) w.resolve({ type: "error", message: error.message });
  }

  post(msg: ToWorker): void {
    if (this.proc.connected) this.proc.send(msg);
  }

  async wait<T extends FromWorker["type"]>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    if (this.error) throw this.error;
    const msg = await new Promise<FromWorker>((resolve) => this.waiters.push({ type, resolve }));
    if (msg.type === "error") throw new Error(msg.message);
    return msg as Extract<FromWorker, { type: T }>;
  }

  async close(): Promise<void> {
    this.post({ type: "close" });
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs one storm against its own duet process and generators; cleans up after itself. */
export async function runStorm(options: StormOptions): Promise<StormResult> {
  const log = options.log ?? (() => {});
  const kind = options.server ?? "duet";
  if (options.clients % 2 === 1) throw new Error("clients must be even (users in pairs)");
  const procs = options.procs ?? Math.max(2, cpus().length);
  const maxConnections = options.maxConnections ?? Math.ceil(options.clients * 1.1);
  const { soft, hard } = fdLimits();
  const serverFds = options.clients + 256;
  if (serverFds > hard) {
    log(`warning: the server needs ${serverFds} open files, the hard limit (ulimit -Hn) is ${hard}`);
  } else if (serverFds > soft)
    log(`raising the open-file limit to ${serverFds} (ulimit -n) for the children`);
  if (options.cpuProfDir) mkdirSync(options.cpuProfDir, { recursive: true });
  const nodeArgs = options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const server = await startServer(
    kind,
    {
      DUET_STORE: tempDbUrl(),
      DUET_MAX_CONNECTIONS: String(maxConnections),
      ...options.env,
    },
    serverFds,
    nodeArgs,
  );
  const pid = server.pid;
  const started = procStats(pid);
  const workers: Worker[] = [];
  try {
    let lastLogged = 0;
    const onOnline = () => {
      const online = workers.reduce((s, w) => s + w.online, 0);
      if (online - lastLogged >= 2000 || online === options.clients) {
        lastLogged = online;
        log(`storm: ${online} online`);
      }
    };
    // Users in pairs across processes: user j is in process j % procs, its peer j ^ 1 usually not.
    const shares: number[][] = Array.from({ length: procs }, () => []);
    for (let j = 0; j < options.clients; j++) shares[j % procs]!.push(j);
    for (const share of shares) {
      const script = kind === "socketio" ? "./storm-worker-socketio.ts" : "./storm-worker.ts";
      const worker = new Worker(share.length + 256, script, onOnline);
      workers.push(worker);
      worker.post({
        type: "start",
        url: server.url,
        users: share,
        transport: options.transport,
        batch: 250,
        ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
      });
    }
    await Promise.all(workers.map((w) => w.wait("ready")));
    // Every client receives one message from its peer: a resume starts from it.
    const warmed = Promise.all(workers.map((w) => w.wait("warmed")));
    for (const w of workers) w.post({ type: "warm" });
    await warmed;
    await sleep(1_000);
    const online = procStats(pid);
    const shedBefore = kind === "duet" ? await overloadedCount(server.url) : 0;
    const loadAverage = loadavg()[0]!;
    log(`storm: all online; the server holds ${fdCount(pid)} open files, ${online.rssMb} MB`);
    const overflowsBefore = listenOverflows();

    // The storm: every generator resets all its connections at the same wall-clock instant. The
    // CPU counted is what the processes spend from that instant until every client is back and
    // every message delivered (the same span for duet and Socket.IO).
    const at = Date.now() + 300;
    for (const w of workers) w.post({ type: "cut", at });
    await sleep(at - Date.now());
    const before = procStats(pid);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const generatorsBefore = workers.reduce((s, w) => s + procStats(w.proc.pid!).cpuSeconds, 0);
    let peak = before.rssMb;
    const deadline = at + options.settleMs;
    let nextLog = at + 2_000;
    while (Date.now() < deadline && !workers.every((w) => w.complete)) {
      peak = Math.max(peak, procStats(pid).rssMb);
      if (Date.now() >= nextLog) {
        nextLog += 2_000;
        const back = workers.reduce((s, w) => s + w.back, 0);
        const delivered = workers.reduce((s, w) => s + w.delivered, 0);
        const cpu = (procStats(pid).cpuSeconds - before.cpuSeconds).toFixed(1);
        log(
          `storm: +${((Date.now() - at) / 1000).toFixed(0)} s: ${back} back, ${delivered} delivered, ` +
            `server ${fdCount(pid)} open files, ${cpu} s CPU`,
        );
      }
      await sleep(100);
    }
    const after = procStats(pid);
    const toUs = Number(process.hrtime.bigint() / 1000n);
    const generatorsAfter = workers.reduce((s, w) => s + procStats(w.proc.pid!).cpuSeconds, 0);
    await sleep(1_000); // let duplicates, if any, show up
    const reports: WorkerReport[] = [];
    for (const w of workers) {
      const reply = w.wait("report");
      w.post({ type: "report" });
      reports.push((await reply).report);
    }
    const t0 = Math.min(...reports.map((r) => r.cutAt));
    const back = reports.flatMap((r) => r.backAt);
    const delivered = reports.flatMap((r) => r.deliveredAt);
    const backMs = back.filter((b): b is number => b !== null).map((b) => b - t0);
    const deliveredMs = delivered.filter((d): d is number => d !== null).map((d) => d - t0);
    const recovered = reports.reduce((s, r) => s + (r.recovered ?? 0), 0);
    const result: StormResult = {
      server: kind,
      clients: options.clients,
      procs,
      maxConnections,
      transport: options.transport,
      reset: reports.reduce((s, r) => s + r.reset, 0),
      cutSpreadMs: Math.max(...reports.map((r) => r.cutAt)) - t0,
      allOnlineMs: backMs.length === back.length ? Math.max(...backMs) : null,
      allDeliveredMs: deliveredMs.length === delivered.length ? Math.max(...deliveredMs) : null,
      p50OnlineMs: percentile(backMs, 0.5),
      p90OnlineMs: percentile(backMs, 0.9),
      maxOnlineMs: backMs.length ? Math.max(...backMs) : 0,
      sent: delivered.length,
      delivered: deliveredMs.length,
      duplicates: reports.reduce((s, r) => s + r.duplicates, 0),
      failedSends: reports.reduce((s, r) => s + r.failedSends, 0),
      shed: kind === "duet" ? (await overloadedCount(server.url)) - shedBefore : 0,
      attempts: reports.reduce((s, r) => s + r.attempts, 0),
      rssBeforeMb: before.rssMb,
      rssPeakMb: peak,
      rssAfterMb: after.rssMb,
      cpuSeconds: Math.round((after.cpuSeconds - before.cpuSeconds) * 100) / 100,
      spanSeconds: Math.round((Date.now() - t0) / 100) / 10,
      generatorCpuSeconds: Math.round((generatorsAfter - generatorsBefore) * 100) / 100,
      back: backMs.length,
      setupCpuSeconds: Math.round((online.cpuSeconds - started.cpuSeconds) * 100) / 100,
      serverConnections: kind === "duet" ? await serverConnections(server.url) : backMs.length,
      listenOverflows: listenOverflows() - overflowsBefore,
      loadAverage: Math.round(loadAverage * 10) / 10,
      ...(kind === "socketio" ? { recovered } : {}),
      ...(options.cpuProfDir ? { profileWindowUs: [fromUs, toUs] as [number, number] } : {}),
    };
    log(
      `storm: ${kind}, ${result.clients} clients, all online again after ${result.allOnlineMs ?? "-"} ms, ` +
        `all delivered after ${result.allDeliveredMs ?? "-"} ms`,
    );
    return result;
  } catch (err) {
    log(`storm: failed; the server's last log lines:\n${server.logs.slice(-20).join("\n")}`);
    throw err;
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    // A profile is written only when the process exits on its own (SIGTERM: duet shuts down).
    await server.stop(options.cpuProfDir !== undefined);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Medians per server of the runs: a Markdown table, as docs/PERFORMANCE.md shows it. */
export function summaryTable(results: StormResult[], servers: StormServer[]): string {
  const rows = [
    "| server | runs | all back | all delivered | lost / dup | attempts | server CPU | per reconnect | generators' CPU | SYNs dropped | load |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const kind of servers) {
    const mine = results.filter((r) => r.server === kind);
    if (mine.length === 0) continue;
    const m = (f: (r: StormResult) => number) => median(mine.map(f));
    const secs = (f: (r: StormResult) => number | null) =>
      mine.every((r) => f(r) !== null) ? `${(m((r) => f(r)!) / 1000).toFixed(2)} s` : "not all";
    const lost = mine.reduce((s, r) => s + (r.sent - r.delivered), 0);
    const dup = mine.reduce((s, r) => s + r.duplicates, 0);
    const name = kind === "socketio" ? "Socket.IO 4.8 + recovery" : "duet";
    rows.push(
      `| ${name} | ${mine.length} | ${secs((r) => r.allOnlineMs)} | ${secs((r) => r.allDeliveredMs)} | ` +
        `${lost} / ${dup} | ${m((r) => r.attempts)} | ${m((r) => r.cpuSeconds).toFixed(2)} s | ` +
        `${m((r) => (r.cpuSeconds * 1000) / r.clients).toFixed(3)} ms | ` +
        `${m((r) => r.generatorCpuSeconds).toFixed(2)} s | ${m((r) => r.listenOverflows)} | ` +
        `${mine.map((r) => r.loadAverage).join(", ")} |`,
    );
  }
  return rows.join("\n");
}

const USAGE = `Usage: node --import tsx test/network/storm.ts [options]
       npm run bench -- --workload storm [options]

  --clients N          SDK clients, in pairs (default 2000; the server needs N + 256 open files)
  --procs P            load-generator processes (default: one per CPU, at least 2)
  --max-connections M  the server's DUET_MAX_CONNECTIONS (default N + 10%): lower it to see shedding
  --transport t        ws, sse, stream, longpoll (default ws)
  --settle S           seconds to wait for every client and message (default 60)
  --connect-timeout S  the SDK's connect timeout in the generators (default: the SDK's, 10 s)
  --runs R             storms in a row, each against a fresh server (default 1); medians printed
  --compare socketio   after each duet storm, the same storm against Socket.IO 4.8 with connection
                       state recovery (bench/socketio-server.ts) and socket.io-client clients
  --cpu-prof DIR       profile the server with node --cpu-prof into DIR and summarise it
  --duet-env K=V       extra environment for the server (repeatable)
  --tsx                run duet's src/ through tsx (default: dist/, built first if older than src/)
`;

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      workload: { type: "string" },
      clients: { type: "string", default: "2000" },
      procs: { type: "string" },
      "max-connections": { type: "string" },
      transport: { type: "string", default: "ws" },
      settle: { type: "string", default: "60" },
      runs: { type: "string", default: "1" },
      "connect-timeout": { type: "string" },
      "cpu-prof": { type: "string" },
      compare: { type: "string" },
      tsx: { type: "boolean", default: false },
      "duet-env": { type: "string", multiple: true },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const env: Record<string, string> = {};
  for (const kv of values["duet-env"] ?? []) {
    const i = kv.indexOf("=");
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
  const { soft, hard } = fdLimits();
  console.error(
    `storm: ulimit -n ${soft} (hard ${hard}), ${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  if (values.compare !== undefined && values.compare !== "socketio")
    throw new Error("--compare takes socketio");
  if (!values.tsx) {
    ensureBuilt((line) => console.error(line));
    process.env.DUET_SPAWN_DIST = "1";
  }
  const servers: StormServer[] = values.compare ? ["duet", "socketio"] : ["duet"];
  const results: StormResult[] = [];
  let failed = false;
  for (let run = 1; run <= Number(values.runs); run++) {
    for (const kind of servers) {
      const profDir = values["cpu-prof"];
      const seen = profDir && existsSync(profDir) ? new Set(readdirSync(profDir)) : new Set<string>();
      const result = await runStorm({
        server: kind,
        clients: Number(values.clients),
        ...(values.procs ? { procs: Number(values.procs) } : {}),
        ...(values["max-connections"] ? { maxConnections: Number(values["max-connections"]) } : {}),
        transport: values.transport as TransportName,
        settleMs: Number(values.settle) * 1000,
        ...(profDir ? { cpuProfDir: profDir } : {}),
        ...(values["connect-timeout"] ? { connectTimeoutMs: Number(values["connect-timeout"]) * 1000 } : {}),
        env,
        log: (line) => console.error(line),
      });
      console.log(`STORM_JSON ${JSON.stringify(result)}`);
      results.push(result);
      if (result.delivered !== result.sent || result.duplicates > 0 || result.allOnlineMs === null)
        failed = true;
      if (profDir) {
        const { formatSummary } = await import("../../bench/profile-summary.js");
        const { formatAttribution } = await import("../../bench/storm-profile.js");
        for (const file of readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile") && !seen.has(f))) {
          console.log(formatSummary(join(profDir, file), 30));
          // The main thread's (thread 0) samples of the storm itself, step by step.
          if (/\.\d+\.0\.\d+\.cpuprofile$/.test(file) && result.profileWindowUs) {
            const [from, to] = result.profileWindowUs;
            console.log(formatAttribution(join(profDir, file), from, to, result.clients));
          }
        }
      }
    }
  }
  console.log(summaryTable(results, servers));
  if (failed) {
    console.error("storm: FAILED (a client did not come back, or a message was lost or duplicated)");
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
