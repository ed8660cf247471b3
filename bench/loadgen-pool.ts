/**
 * The bench's load generators: one or more child processes (bench/loadgen.ts), each driving its
 * own share of the users, spoken to over IPC. With several processes the users are split by pair
 * (a user and its peer are always in the same process, so every check — lost, duplicated, out of
 * order, contiguous seq — stays whole inside one process) and so is the W3 send rate; the replies
 * are merged here: counts summed, latency percentiles taken over every process's samples.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { at } from "../test/helpers/kit.js";
import type { Command, FlowStats, Job, Reply, Shard } from "./protocol.js";
import { fdLimits } from "./servers.js";
import { Samples } from "./stats.js";

/** One load-generator process: one reply per command, in order. */
class LoadgenProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  private readonly waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];

  constructor(child: ChildProcess) {
    this.child = child;
    child.on("message", (reply: Reply) => {
      const next = this.waiting.shift();
      if (!next) return;
      if (reply.reply === "error") next.reject(new Error(`load generator: ${reply.message}`));
      else next.resolve(reply);
    });
    this.exited = new Promise((resolve) => {
      child.on("exit", (code) => {
        for (const w of this.waiting.splice(0)) w.reject(new Error(`load generator exited (${code})`));
        resolve();
      });
    });
  }

  request(command: Command): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.send(command);
    });
  }
}

export interface LoadgenOptions {
  /** The bundled bench/loadgen.ts. */
  entry: string;
  /** Processes (≥ 1). */
  procs: number;
  /** Open files each process needs (its connections and some). */
  fdNeed: number;
  /** Write a V8 CPU profile of each process into this directory when it exits. */
  cpuProfDir?: string;
}

function startProcess(options: LoadgenOptions): ChildProcess {
  // The entry is plain JavaScript: no TypeScript loader inherited from the orchestrator.
  const nodeArgs = options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  // Structured clone over IPC: the latency samples travel as a Float64Array, not JSON text.
  const stdio: ["ignore", "inherit", "inherit", "ipc"] = ["ignore", "inherit", "inherit", "ipc"];
  const { soft, hard } = fdLimits();
  if (soft >= options.fdNeed) {
    return fork(options.entry, [], { execArgv: nodeArgs, stdio, serialization: "advanced" });
  }
  // fork() cannot raise a limit; a shell can, and keeps the IPC channel (fd 3) open for node.
  const limit = Math.min(options.fdNeed, hard);
  return spawn(
    "sh",
    ["-c", `ulimit -n ${limit} && exec "$@"`, "sh", process.execPath, ...nodeArgs, options.entry],
    { stdio, serialization: "advanced" },
  );
}

/** Merges the stats of several processes: counts summed, latency over the union of their samples. */
export function mergeStats(parts: FlowStats[]): FlowStats {
  if (parts.length === 1) return at(parts, 0);
  const sum = (key: keyof FlowStats) => parts.reduce((s, p) => s + (p[key] as number), 0);
  const samples = new Samples();
  for (const part of parts) {
    if (!part.latencySamples) throw new Error("a load generator sent no latency samples to merge");
    for (const value of part.latencySamples) samples.add(value);
  }
  return {
    // The processes are marked and stopped one IPC message apart: their windows are the same span.
    windowSec: parts.reduce((s, p) => s + p.windowSec, 0) / parts.length,
    delivered: sum("delivered"),
    sent: sum("sent"),
    accepted: sum("accepted"),
    unanswered: sum("unanswered"),
    undrained: sum("undrained"),
    received: sum("received"),
    lost: sum("lost"),
    duplicated: sum("duplicated"),
    outOfOrder: sum("outOfOrder"),
    errors: sum("errors"),
    deliveredAfterError: sum("deliveredAfterError"),
    disconnects: sum("disconnects"),
    latency: samples.summary(),
    errorSamples: parts.flatMap((p) => p.errorSamples).slice(0, 10),
  };
}

/** The ready replies of several processes as one: counts summed, ports and samples joined. */
function mergeReady(replies: Reply[]): Extract<Reply, { reply: "ready" }> {
  const merged = {
    reply: "ready" as const,
    connected: 0,
    failed: 0,
    errorSamples: [] as string[],
    ports: [] as [string, number][],
  };
  for (const reply of replies) {
    if (reply.reply !== "ready") throw new Error(`unexpected reply ${reply.reply}`);
    merged.connected += reply.connected;
    merged.failed += reply.failed;
    merged.errorSamples.push(...reply.errorSamples);
    merged.ports.push(...(reply.ports ?? []));
  }
  merged.errorSamples = merged.errorSamples.slice(0, 5);
  return merged;
}

/** The load-generator processes of one bench invocation; commands go to every one. */
export class LoadgenPool {
  private readonly procs: LoadgenProcess[];

  constructor(options: LoadgenOptions) {
    if (!Number.isInteger(options.procs) || options.procs < 1) throw new Error("procs must be ≥ 1");
    this.procs = Array.from({ length: options.procs }, () => new LoadgenProcess(startProcess(options)));
  }

  get size(): number {
    return this.procs.length;
  }

  get pids(): number[] {
    return this.procs.map((p) => p.child.pid ?? -1);
  }

  /** Sends `command` to every process; resolves with their replies, in process order. */
  requestAll(command: Command): Promise<Reply[]> {
    return Promise.all(this.procs.map((p) => p.request(command)));
  }

  async request(command: Command): Promise<void> {
    await this.requestAll(command);
  }

  /**
   * Sets up `job` split over the processes (`shard` filled in per process); sums what connected.
   * A `serial` job connects one user at a time, process after process: a server of several
   * processes on one port (node's cluster module hands connections round-robin to its workers)
   * then gets consecutive users — a user and its peer — on different processes, as in a real
   * deployment where peers rarely share a process.
   */
  async ready(job: Job): Promise<Extract<Reply, { reply: "ready" }>> {
    const count = this.procs.length;
    const setup = (p: LoadgenProcess, index: number) => {
      const shard: Shard = { index, count };
      return p.request({ cmd: "setup", job: { ...job, shard } });
    };
    let replies: Reply[] = [];
    if (job.kind !== "w2" && job.serial) {
      for (const [index, p] of this.procs.entries()) replies.push(await setup(p, index));
    } else replies = await Promise.all(this.procs.map(setup));
    return mergeReady(replies);
  }

  /** Opens the connections of `users` again, one at a time, process after process (before the start). */
  async reconnect(users: string[]): Promise<Extract<Reply, { reply: "ready" }>> {
    const replies: Reply[] = [];
    for (const p of this.procs) replies.push(await p.request({ cmd: "reconnect", users }));
    return mergeReady(replies);
  }

  /** Stops every process's traffic, waits for its drain and merges the stats. */
  async stats(drainMs: number): Promise<FlowStats> {
    const samples = this.procs.length > 1;
    const replies = await this.requestAll({ cmd: "stop", drainMs, samples });
    return mergeStats(
      replies.map((reply) => {
        if (reply.reply !== "stats") throw new Error(`unexpected reply ${reply.reply}`);
        return reply.stats;
      }),
    );
  }

  /** Asks every process to exit and waits until they have (so their CPU profiles are written). */
  async exit(timeoutMs = 10_000): Promise<void> {
    await this.requestAll({ cmd: "exit" }).catch(() => undefined);
    const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.all(this.procs.map((p) => p.exited)), timer]);
  }

  kill(): void {
    for (const p of this.procs) if (p.child.exitCode === null) p.child.kill("SIGKILL");
  }
}
