import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import type { CheckpointReport, CheckpointWorkerData } from "./checkpoint-worker.js";

/** SQLite's own checkpoint threshold, used again if the checkpoint thread is gone. */
const AUTOCHECKPOINT_PAGES = 500;

/**
 * Under W1 (1,000 users, ~900 sends per commit) nearly every commit rewrites the same hot index
 * leaves (each user's and each conversation's newest page). A checkpoint copies each page's
 * newest version once, so a pass 500 ms after a write instead of 100 ms copies and syncs ~5x
 * fewer copies of those pages: bench/store-micro.ts --batch 900, alternating (load 13-14),
 * 32.6 and 35.5 µs of CPU per message at 100 ms / 4,096 frames, 31.2 and 30.6 at 500 ms / 8,192
 * (30.2 and 30.0 at 1 s / 16,384, for a WAL twice as large). Latency does not depend on it (the
 * event loop never waits for the thread); the WAL holds about one delay's worth of writes more.
 */
const DELAY_MS = 500;
/** 64 MiB of 8 KiB pages, the store's journal_size_limit: the WAL is not restarted every pass. */
const RESTART_FRAMES = 8192;

export interface WalCheckpointerOptions {
  path: string;
  synchronous: "NORMAL" | "FULL";
  /**
   * How long after a write the thread checkpoints. Hot pages (an index's leaves) are rewritten
   * by every batch; a checkpoint copies only their newest version, so fewer, larger ones copy
   * and sync less. Latency does not depend on it: the event loop never waits for the thread.
   */
  delayMs?: number;
  /**
   * WAL frames past which the event loop finishes a checkpoint itself. Under steady writes the
   * thread never catches up with the last commit, and the WAL restarts from its start only
   * once every frame is copied; the event loop's share is what was written since the thread's
   * last pass, so the WAL stays near this size at the cost of one short stall per cycle.
   */
  restartFrames?: number;
}

/**
 * Built, the thread runs checkpoint-worker.js. Run from TypeScript (tests, `tsx`), it is a .ts
 * file, and a worker does not inherit the parent's `--import tsx` loader on Node 20: the thread
 * registers it first.
 */
function startWorker(workerData: CheckpointWorkerData): Worker {
  if (!import.meta.url.endsWith(".ts")) {
    return new Worker(new URL("./checkpoint-worker.js", import.meta.url), { workerData });
  }
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const entry = JSON.stringify(new URL("./checkpoint-worker.ts", import.meta.url).href);
  const boot = `import(${tsx}).then((tsx) => { tsx.register(); return import(${entry}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * Moves WAL checkpoints off the event loop: a worker thread with its own connection copies
 * the WAL back into the database file and syncs it. The store's connection runs with
 * automatic checkpoints off, tells the thread when it wrote, and takes them up again if the
 * thread dies.
 */
export class WalCheckpointer {
  /** Checkpoints by the thread, and those the event loop had to finish. */
  readonly counts = { thread: 0, loop: 0 };
  private readonly db: Database.Database;
  private readonly worker: Worker;
  private readonly restartFrames: number;
  private told = false;
  private closing = false;
  private readonly exited: Promise<void>;

  constructor(db: Database.Database, options: WalCheckpointerOptions) {
    this.db = db;
    this.restartFrames = options.restartFrames ?? RESTART_FRAMES;
    const workerData: CheckpointWorkerData = {
      path: options.path,
      synchronous: options.synchronous,
      delayMs: options.delayMs ?? DELAY_MS,
      restartFrames: this.restartFrames,
    };
    this.worker = startWorker(workerData);
    this.worker.unref();
    db.pragma("wal_autocheckpoint = 0");
    this.worker.on("message", (report: CheckpointReport) => this.onReport(report));
    this.worker.on("error", () => this.fallBack());
    this.exited = new Promise((resolve) => this.worker.once("exit", () => resolve()));
    this.worker.once("exit", () => this.fallBack());
  }

  /** Called after each commit: at most one message to the thread until it answers. */
  wrote(): void {
    if (this.told || this.closing) return;
    this.told = true;
    this.worker.postMessage("wrote");
  }

  private onReport([busy, log]: CheckpointReport): void {
    this.told = false;
    this.counts.thread++;
    if (busy === 0 && log >= this.restartFrames) {
      // Copies what was written since the thread's pass (often nothing): with every frame copied,
      // the next write starts the WAL over.
      this.db.pragma("wal_checkpoint(PASSIVE)");
      this.counts.loop++;
    }
  }

  private fallBack(): void {
    if (this.closing) return;
    this.closing = true;
    this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }

  async close(): Promise<void> {
    this.worker.ref(); // the exit awaited below must hold the process open
    if (!this.closing) {
      this.closing = true;
      this.worker.postMessage("close");
    }
    await this.exited;
  }
}
