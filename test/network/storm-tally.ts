/**
 * What both kinds of storm worker (test/network/storm-worker.ts: duet's SDK;
 * storm-worker-socketio.ts: socket.io-client) count the same way: each party's warm-up, its
 * return and its peer's message after the cut, the sockets the cut resets, the progress and
 * completion messages to the parent, and the report. A worker supplies its clients and reports
 * what they see through `warmed`, `delivered`, `back` and `attempt`.
 */
import type { Socket } from "node:net";
import type { FromWorker, ToWorker, WorkerReport } from "./storm-worker.js";

/** What the tally keeps of each client. */
export interface Tallied {
  user: string;
  peer: string;
  warmed: boolean;
  received: number;
  backAt: number | null;
  deliveredAt: number | null;
}

/** To the parent; once it is gone, nothing (the disconnect handler ends the process). */
export function toParent(message: FromWorker): void {
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}

export class StormTally<P extends Tallied> {
  readonly parties: P[] = [];
  /** Every TCP connection of this process's clients, so the cut can reset them all at once. */
  readonly sockets = new Set<Socket>();
  cut = false;
  failedSends = 0;
  recovered = 0;
  private cutAt = 0;
  private reset = 0;
  private attempts = 0;
  private duplicates = 0;
  private completeSent = false;
  private warming = false;
  private warmedCount = 0;
  private backCount = 0;
  private deliveredCount = 0;

  /** Adds a connection to those the cut resets. */
  track(socket: Socket): Socket {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    return socket;
  }

  /** The clients are about to send their warm-up messages. */
  warm(): void {
    this.warming = true;
    this.checkWarm();
  }

  /** A client received a message from its peer: its warm-up, or the one sent after the cut. */
  received(party: P, text: string | null | undefined): void {
    if (text === `before-cut:${party.peer}` && !party.warmed) {
      party.warmed = true;
      this.warmedCount++;
      this.checkWarm();
    } else if (text === `after-cut:${party.peer}`) {
      party.received++;
      if (party.received > 1) this.duplicates++;
      else {
        party.deliveredAt = Date.now();
        this.deliveredCount++;
        this.checkComplete();
      }
    }
  }

  /** A connection attempt after the cut. */
  attempt(): void {
    if (this.cut) this.attempts++;
  }

  /** A client is online again (true if this was its first return after the cut). */
  back(party: P): boolean {
    if (!this.cut || party.backAt !== null) return false;
    party.backAt = Date.now();
    this.backCount++;
    this.checkComplete();
    return true;
  }

  /** The cut: every tracked connection reset at once, and progress told each second until complete. */
  resetAll(): void {
    this.cut = true;
    this.cutAt = Date.now();
    this.reset = this.sockets.size;
    for (const socket of [...this.sockets]) socket.resetAndDestroy();
    const progress = setInterval(() => {
      toParent({ type: "progress", back: this.backCount, delivered: this.deliveredCount });
      if (this.completeSent) clearInterval(progress);
    }, 1_000);
  }

  report(extra: Partial<WorkerReport> = {}): WorkerReport {
    return {
      cutAt: this.cutAt,
      reset: this.reset,
      backAt: this.parties.map((p) => p.backAt),
      deliveredAt: this.parties.map((p) => p.deliveredAt),
      duplicates: this.duplicates,
      attempts: this.attempts,
      failedSends: this.failedSends,
      ...extra,
    };
  }

  private checkWarm(): void {
    if (this.warming && this.warmedCount === this.parties.length) {
      this.warming = false;
      toParent({ type: "warmed" });
    }
  }

  private checkComplete(): void {
    if (this.completeSent || !this.cut) return;
    if (this.backCount === this.parties.length && this.deliveredCount === this.parties.length) {
      this.completeSent = true;
      toParent({ type: "complete" });
    }
  }
}

/** What a worker does on each of the parent's messages. */
export interface WorkerSteps {
  start(msg: Extract<ToWorker, { type: "start" }>): Promise<void>;
  warm(): void;
  cut(): void;
  report(): WorkerReport;
  close(): void;
}

/** Runs the worker's side of the IPC protocol (start → ready → warm → warmed → cut → report). */
export function serveParent(steps: WorkerSteps): void {
  process.on("message", (raw) => {
    const msg = raw as ToWorker;
    switch (msg.type) {
      case "start":
        steps.start(msg).catch((err: unknown) => toParent({ type: "error", message: String(err) }));
        break;
      case "warm":
        steps.warm();
        break;
      case "cut":
        setTimeout(() => steps.cut(), Math.max(0, msg.at - Date.now()));
        break;
      case "report":
        toParent({ type: "report", report: steps.report() });
        break;
      case "close":
        steps.close();
        process.disconnect?.();
        setTimeout(() => process.exit(0), 100).unref();
        break;
    }
  });
  process.on("disconnect", () => process.exit(0));
}
