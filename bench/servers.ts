/**
 * The processes the bench starts and watches: duet (the built dist/cli.js), the Socket.IO relay,
 * redis-server, and the load generator; CPU and RSS read from /proc.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, sleep } from "../test/helpers/kit.js";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CACHE = join(ROOT, "node_modules", ".cache", "duet-bench");
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
const PAGE_SIZE = Number(execFileSync("getconf", ["PAGESIZE"]).toString().trim()) || 4096;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

/** Runs `npm run build` when dist/cli.js is missing or older than a file in src/. */
export function ensureBuilt(log: (line: string) => void): void {
  const cli = join(ROOT, "dist", "cli.js");
  if (existsSync(cli) && statSync(cli).mtimeMs >= newestMtime(join(ROOT, "src"))) return;
  log("dist/ is missing or older than src/: running npm run build");
  const result = spawnSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: ["ignore", 2, 2] });
  if (result.status !== 0) {
    if (!existsSync(cli)) throw new Error("npm run build failed and there is no dist/cli.js");
    log("warning: npm run build reported errors; running the dist/ it emitted");
  }
}

/**
 * Bundles a bench entry point (TypeScript) to plain JavaScript, so the load generator and the
 * Socket.IO relay run without a TypeScript loader in the process being measured.
 */
export async function compileEntry(name: string): Promise<string> {
  const { build } = await import("esbuild");
  mkdirSync(CACHE, { recursive: true });
  const outfile = join(CACHE, `${name}.mjs`);
  await build({
    entryPoints: [join(ROOT, "bench", `${name}.ts`)],
    outfile,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
  });
  return outfile;
}

/** The soft and hard open-file limits of a shell started from here. */
export function fdLimits(): { soft: number; hard: number } {
  const out = execFileSync("sh", ["-c", "ulimit -Sn; ulimit -Hn"]).toString().trim().split("\n");
  const parse = (value: string | undefined) =>
    value === undefined || value === "unlimited" ? Number.POSITIVE_INFINITY : Number(value);
  return { soft: parse(out[0]), hard: parse(out[1]) };
}

/** `[cmd, args]` that run `command` with at least `need` open files when the soft limit is lower. */
function withFdLimit(command: string, args: string[], need: number): [string, string[]] {
  const { soft, hard } = fdLimits();
  if (soft >= need) return [command, args];
  const target = Math.min(need, hard);
  return ["sh", ["-c", `ulimit -n ${target} && exec "$@"`, "sh", command, ...args]];
}

export interface ProcUsage {
  /** utime + stime of the process (all its threads), seconds. */
  cpuSec: number;
  rssBytes: number;
  /** Bytes the process caused to be written to storage (/proc/<pid>/io write_bytes; 0 if unreadable). */
  diskWriteBytes: number;
}

/** write_bytes of /proc/<pid>/io: what reached the page cache for files (WAL, checkpoints). */
function diskWriteBytes(pid: number): number {
  try {
    const match = /^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU and RSS of one process from /proc/<pid>/stat. */
export function procUsage(pid: number): ProcUsage {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime 15, rss (pages) 24.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssPages = Number(fields[21]);
  return {
    cpuSec: (utime + stime) / CLK_TCK,
    rssBytes: rssPages * PAGE_SIZE,
    diskWriteBytes: diskWriteBytes(pid),
  };
}

/** `pid` and its descendants (cluster workers), from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const children = readFileSync(`/proc/${out[i]}/task/${tid}/children`, "utf8").trim();
        if (children !== "") out.push(...children.split(" ").map(Number));
      } catch {
        // the task ended meanwhile
      }
    }
  }
  return out;
}

/** Summed usage of several processes (a process that is gone counts as zero). */
export function usageOf(pids: number[]): ProcUsage {
  const sum: ProcUsage = { cpuSec: 0, rssBytes: 0, diskWriteBytes: 0 };
  for (const pid of pids) {
    try {
      const usage = procUsage(pid);
      sum.cpuSec += usage.cpuSec;
      sum.rssBytes += usage.rssBytes;
      sum.diskWriteBytes += usage.diskWriteBytes;
    } catch {
      // exited
    }
  }
  return sum;
}

/** A server the bench started. */
export class ServerProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly url: string;
  readonly logs: string[] = [];
  readonly exited: Promise<number | string>;
  /** Where the GC hook of each of its processes writes process.memoryUsage(). */
  readonly memDir: string;
  private readonly cleanup: () => void;

  constructor(name: string, proc: ChildProcess, url: string, memDir: string, cleanup: () => void = () => {}) {
    this.name = name;
    this.proc = proc;
    this.url = url;
    this.memDir = memDir;
    this.cleanup = () => {
      cleanup();
      rmSync(memDir, { recursive: true, force: true });
    };
    const keep = (chunk: Buffer) => {
      this.logs.push(chunk.toString());
      if (this.logs.length > 200) this.logs.shift();
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** The server's processes now: the main one and, with --workers, its workers. */
  pids(): number[] {
    return processTree(this.pid);
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.running) {
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.cleanup();
  }

  /** JS heap used and external memory summed over its processes, as of the last collectGarbage(). */
  heap(): { heapUsed: number; external: number } {
    let heapUsed = 0;
    let external = 0;
    for (const pid of this.pids()) {
      try {
        const usage = JSON.parse(
          readFileSync(join(this.memDir, `${pid}.json`), "utf8"),
        ) as NodeJS.MemoryUsage;
        heapUsed += usage.heapUsed;
        external += usage.external;
      } catch {
        // no reading from that process (yet)
      }
    }
    return { heapUsed, external };
  }

  /** Sends SIGUSR2 to each of its processes: the GC hook collects garbage there. */
  collectGarbage(): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, "SIGUSR2");
      } catch {
        // exited
      }
    }
  }
}

/** Waits for `GET url/healthz` to answer 200, or for the process to die. */
async function waitHealthy(server: ServerProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!server.running) {
      throw new Error(
        `${server.name} exited (${server.proc.exitCode ?? server.proc.signalCode}):\n${server.logs.join("")}`,
      );
    }
    try {
      const res = await fetch(`${server.url}/healthz`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await server.stop();
  throw new Error(`${server.name} did not become healthy in ${timeoutMs} ms:\n${server.logs.join("")}`);
}

export interface ServerOptions {
  /** Node flags for the server processes (--cpu-prof, ...). */
  nodeArgs: string[];
  /** Open files the server needs (connections + slack). */
  fdNeed: number;
  secret: string;
  /** Compiled GC hook, preloaded so W2 can collect garbage before reading RSS. */
  gcHook: string;
}

export interface DuetOptions extends ServerOptions {
  /** DUET_STORE; empty for a fresh SQLite file in a temp dir. */
  store: string;
  workers: number;
  env: Record<string, string>;
}

/** duet from dist/cli.js, on a free port, limits raised so the bench measures the server, not its guards. */
export async function startDuet(options: DuetOptions): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "duet-bench-"));
  const memDir = mkdtempSync(join(tmpdir(), "duet-bench-mem-"));
  const port = await freePort();
  const store = options.store || `sqlite:${join(dir, "duet.db")}`;
  const [cmd, args] = withFdLimit(
    process.execPath,
    ["--expose-gc", "--import", options.gcHook, ...options.nodeArgs, join(ROOT, "dist", "cli.js")],
    options.fdNeed,
  );
  const proc = spawn(cmd, args, {
    cwd: dir,
    env: {
      ...process.env,
      DUET_PORT: String(port),
      DUET_HOST: "127.0.0.1",
      DUET_STORE: store,
      DUET_WORKERS: String(options.workers),
      DUET_JWT_SECRET: options.secret,
      DUET_LOG_LEVEL: "warn",
      DUET_SEND_RATE: "1000000",
      DUET_SEND_BURST: "1000000",
      DUET_MAX_CONNECTIONS: "1000000",
      DUET_MAX_CONNECTIONS_PER_USER: "100",
      DUET_MAX_POLL_SECONDS: "3600",
      BENCH_MEM_DIR: memDir,
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const server = new ServerProcess("duet", proc, `http://127.0.0.1:${port}`, memDir, () =>
    rmSync(dir, { recursive: true, force: true }),
  );
  await waitHealthy(server);
  return server;
}

/** The minimal Socket.IO 4.8 relay of bench/socketio-server.ts (compiled to `entry`). */
export async function startSocketIo(
  options: ServerOptions & { entry: string; redisUrl?: string; workers: number },
) {
  const port = await freePort();
  const memDir = mkdtempSync(join(tmpdir(), "duet-bench-mem-"));
  const [cmd, args] = withFdLimit(
    process.execPath,
    ["--expose-gc", "--import", options.gcHook, ...options.nodeArgs, options.entry],
    options.fdNeed,
  );
  const proc = spawn(cmd, args, {
    env: {
      ...process.env,
      PORT: String(port),
      BENCH_SECRET: options.secret,
      WORKERS: String(options.workers),
      BENCH_MEM_DIR: memDir,
      ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const server = new ServerProcess("socketio", proc, `http://127.0.0.1:${port}`, memDir);
  await waitHealthy(server);
  return server;
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("data", (chunk) => done(chunk.toString().startsWith("+PONG")));
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}

/** A private redis-server on a free port, AOF on (fsync every second), in a temp dir. */
export async function startRedis(): Promise<{ url: string; server: ServerProcess }> {
  const which = spawnSync("sh", ["-c", "command -v redis-server"]);
  if (which.status !== 0) throw new Error("redis-server is not installed (apt-get install redis-server)");
  const dir = mkdtempSync(join(tmpdir(), "duet-bench-redis-"));
  const memDir = mkdtempSync(join(tmpdir(), "duet-bench-mem-"));
  const port = await freePort();
  const proc = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const server = new ServerProcess("redis", proc, `redis://127.0.0.1:${port}`, memDir, () =>
    rmSync(dir, { recursive: true, force: true }),
  );
  const deadline = Date.now() + 10_000;
  while (!(await redisPing(port))) {
    if (!server.running || Date.now() > deadline) {
      await server.stop();
      throw new Error(`redis-server did not start:\n${server.logs.join("")}`);
    }
    await sleep(50);
  }
  return { url: server.url, server };
}
