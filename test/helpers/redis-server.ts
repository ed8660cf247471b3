/**
 * Real redis-server processes for tests: each on its own free loopback port and temp dir, never a
 * shared or pre-running Redis. Call `stopAllRedis` in `after()`; an exit hook kills any left over.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { at, freePort, sleep } from "./kit.js";

const run = promisify(execFile);
const live = new Set<RedisServer>();

process.on("exit", () => {
  for (const server of live) server.killNow();
});

export interface RedisServerOptions {
  /** AOF persistence (fsync every second), so a restart keeps the data. */
  appendonly?: boolean;
  /** Start with `--cluster-enabled yes` (on its own cluster bus port). */
  cluster?: boolean;
}

/** Answers true once the server replies +PONG (not -LOADING, not a refused connection). */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}

export class RedisServer {
  readonly dir: string;
  readonly options: RedisServerOptions;
  port = 0;
  busPort = 0;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(options: RedisServerOptions = {}) {
    this.options = options;
    this.dir = mkdtempSync(join(tmpdir(), "duet-redis-"));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts the server; a restart reuses the same port and dir (and so the same AOF). */
  async start(): Promise<void> {
    if (this.child) return;
    const fresh = this.port === 0;
    for (let attempt = 0; ; attempt++) {
      if (fresh) {
        this.port = await freePort();
        if (this.options.cluster) this.busPort = await freePort();
      }
      if (await this.spawnOnce()) return;
      // Another process took the port between the probe and the bind; a restart must keep its port.
      if (!fresh || attempt >= 4)
        throw new Error(`redis-server did not start on ${this.port}: ${this.logTail()}`);
    }
  }

  private async spawnOnce(): Promise<boolean> {
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      this.options.appendonly ? "yes" : "no",
      "--logfile",
      "redis.log",
    ];
    if (this.options.cluster) {
      args.push("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf");
      args.push("--cluster-node-timeout", "1500", "--cluster-port", String(this.busPort));
      // Replicas sync at once (not after the default 5 s), so a failover test can start right away.
      args.push("--repl-diskless-sync-delay", "0");
    }
    const child = spawn("redis-server", args, { stdio: "ignore" });
    this.child = child;
    live.add(this);
    let gone = false;
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        gone = true;
        if (this.child === child) this.child = null;
        resolve();
      });
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !gone) {
      if (await pingOnce(this.port)) return true;
      await sleep(20);
    }
    if (!gone) {
      this.killNow();
      await this.exited;
    }
    return false;
  }

  /** SIGTERM lets Redis flush its AOF; SIGKILL is a crash. Resolves once the process is gone. */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    if (!this.child) return;
    this.child.kill(signal);
    this.child.kill("SIGCONT");
    await this.exited;
  }

  /** SIGSTOP: the server keeps its connections open but answers nothing (a hung Redis). */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  resume(): void {
    this.child?.kill("SIGCONT");
  }

  killNow(): void {
    this.child?.kill("SIGCONT");
    this.child?.kill("SIGKILL");
  }

  /** Runs one command through redis-cli and returns its raw output. */
  async cli(...args: string[]): Promise<string> {
    const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(this.port), ...args]);
    return stdout;
  }

  logTail(): string {
    try {
      return readFileSync(join(this.dir, "redis.log"), "utf8").split("\n").slice(-5).join("\n");
    } catch {
      return "(no log)";
    }
  }

  async destroy(): Promise<void> {
    await this.stop("SIGKILL");
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const server = new RedisServer(options);
  await server.start();
  return server;
}

export interface RedisClusterOptions {
  masters?: number;
  /** Replicas per master. */
  replicas?: number;
}

export class RedisCluster {
  readonly nodes: RedisServer[];
  constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  /** The store URL: every node as a seed. */
  get url(): string {
    return `redis-cluster://${this.nodes.map((n) => n.address).join(",")}`;
  }

  /** Waits until every running node reports cluster_state:ok and agrees on the masters. */
  async waitOk(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const running = this.nodes.filter((n) => n.running);
      const infos = await Promise.all(running.map((n) => n.cli("CLUSTER", "INFO").catch(() => "")));
      if (
        infos.every((info) => info.includes("cluster_state:ok") && info.includes("cluster_slots_ok:16384"))
      ) {
        return;
      }
      last = infos.join("\n");
      await sleep(100);
    }
    throw new Error(`cluster not ok after ${timeoutMs} ms:\n${last}`);
  }

  /** The node currently serving `key` as master, asked of any running node. */
  async masterFor(key: string): Promise<RedisServer> {
    const any = this.nodes.find((n) => n.running)!;
    const slot = (await any.cli("CLUSTER", "KEYSLOT", key)).trim();
    const nodesText = await any.cli("CLUSTER", "NODES");
    for (const line of nodesText.split("\n")) {
      const parts = line.split(" ");
      if (!parts[2]?.includes("master") || parts[2].includes("fail")) continue;
      const port = Number(/:(\d+)@/.exec(at(parts, 1))?.[1]);
      for (const range of parts.slice(8)) {
        const [lo = Number.NaN, hi = lo] = range.split("-").map(Number);
        if (Number(slot) >= lo && Number(slot) <= hi) {
          return this.nodes.find((n) => n.port === port)!;
        }
      }
    }
    throw new Error(`no master for slot ${slot}`);
  }
}

/** Starts 3 masters (by default) plus `replicas` each, joins them and waits for cluster_state:ok. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const nodes = await Promise.all(
    Array.from({ length: masters * (1 + replicas) }, () => startRedis({ cluster: true })),
  );
  await run("redis-cli", [
    "--cluster",
    "create",
    ...nodes.map((n) => n.address),
    "--cluster-replicas",
    String(replicas),
    "--cluster-yes",
  ]);
  const cluster = new RedisCluster(nodes);
  await cluster.waitOk();
  return cluster;
}

export async function stopAllRedis(): Promise<void> {
  await Promise.all([...live].map((server) => server.destroy()));
}
