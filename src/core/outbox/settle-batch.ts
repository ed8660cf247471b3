import type { Outbox, OutboxOutcome } from "../ports/outbox.js";

/**
 * Collects attempt outcomes for up to `delayMs` (or until `max` are waiting) and writes them with
 * one `Outbox.settle`: at W1 rates one store write per delivered entry was what held the
 * dispatcher back (docs/PERFORMANCE.md). An outcome not written yet is still covered by the
 * entry's lease, so a process that dies with a batch in hand only delays those entries: another
 * process claims them when their leases end (deliveries are at least once, receivers dedupe).
 */
export class SettleBatch {
  private readonly outbox: Outbox;
  private readonly max: number;
  private readonly delayMs: number;
  private readonly onError: (err: unknown) => void;
  private waiting: OutboxOutcome[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly writing = new Set<Promise<void>>();

  constructor(outbox: Outbox, max: number, delayMs: number, onError: (err: unknown) => void) {
    this.outbox = outbox;
    this.max = Math.max(1, max);
    this.delayMs = delayMs;
    this.onError = onError;
  }

  add(outcome: OutboxOutcome): void {
    this.waiting.push(outcome);
    if (this.waiting.length >= this.max) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.delayMs);
      this.timer.unref();
    }
  }

  /** Writes what is waiting now (one store call). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    const write = this.outbox.settle(batch).then(
      () => {},
      // Not recorded: the leases run out and the entries are tried again.
      (err: unknown) => this.onError(err),
    );
    this.writing.add(write);
    void write.finally(() => this.writing.delete(write));
  }

  /** Writes what is waiting and resolves when every write started so far has finished. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.writing]);
  }
}
