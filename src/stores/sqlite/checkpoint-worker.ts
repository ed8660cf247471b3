/**
 * The checkpoint thread's entry point (see wal-checkpointer.ts). It opens its own connection to
 * the store's file and, when the store says it wrote, copies the WAL back into the database and
 * syncs it: the work that would otherwise stall the event loop for milliseconds at a time.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

export interface CheckpointWorkerData {
  path: string;
  synchronous: "NORMAL" | "FULL";
  /** Wait at least this long after a write before checkpointing, so a burst is copied once. */
  delayMs: number;
  /** See WalCheckpointerOptions.restartFrames. */
  restartFrames: number;
}

/** What the worker posts after each checkpoint: `[busy, frames in the WAL, frames copied]`. */
export type CheckpointReport = [busy: number, log: number, checkpointed: number];

interface CheckpointRow {
  busy: number;
  log: number;
  checkpointed: number;
}

const port = parentPort;
if (port) {
  const { path, synchronous, delayMs, restartFrames } = workerData as CheckpointWorkerData;
  const db = new Database(path);
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma("cache_size = -2048");
  let timer: NodeJS.Timeout | null = null;
  const passive = (): CheckpointRow => {
    const [row] = db.pragma("wal_checkpoint(PASSIVE)") as CheckpointRow[];
    // SQLite answers this pragma with exactly one row; none would be a broken driver.
    if (row === undefined) throw new Error("PRAGMA wal_checkpoint returned no row.");
    return row;
  };
  const checkpoint = () => {
    timer = null;
    // PASSIVE never waits on the writer: it copies what is committed and leaves the rest.
    let row = passive();
    // A WAL this long starts over only once the writer finds every frame copied, so the writer
    // copies the rest itself (wal-checkpointer.ts). Passes again until a pass finds little
    // new, which leaves it no more than what was written during that short pass.
    for (let pass = 0; row.log >= restartFrames && pass < 8; pass++) {
      const next = passive();
      const fresh = next.log - row.log;
      row = next;
      if (fresh <= 16) break;
    }
    port.postMessage([row.busy, row.log, row.checkpointed] satisfies CheckpointReport);
  };
  port.on("message", (message: "wrote" | "close") => {
    if (message === "close") {
      if (timer) clearTimeout(timer);
      db.close();
      port.close();
    } else if (!timer) {
      timer = setTimeout(checkpoint, delayMs);
    }
  });
}
