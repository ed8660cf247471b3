import type { Outbox, OutboxEntry, OutboxOutcome } from "../ports/outbox.js";
import { budgetSpent, retryDelayMs } from "./retry.js";
import { SettleBatch } from "./settle-batch.js";

/** What a handler reports when an attempt did not deliver. */
export class DeliveryError extends Error {
  /** False: no retry helps (the entry moves to the failed list at once). */
  readonly retry: boolean;
  constructor(message: string, retry = true) {
    super(message);
    this.name = "DeliveryError";
    this.retry = retry;
  }
}

/** Thrown by a handler that wants the entry back at `until` (ms): not a failure, no backoff. */
export class Deferred extends Error {
  readonly until: number;
  constructor(until: number) {
    super("deferred");
    this.name = "Deferred";
    this.until = until;
  }
}

/** Delivers one entry; resolves when delivered (or deliberately dropped), throws otherwise. */
export type OutboxHandler = (entry: OutboxEntry) => Promise<void>;

export interface DispatcherOptions {
  /** Attempts in flight at most (per process). */
  concurrency: number;
  /** How long a claim holds an entry (must exceed a handler's own timeout). */
  leaseMs: number;
  /** DUET_WEBHOOK_RETRY_S in ms. */
  retryBudgetMs: number;
  /** How often to look for due entries when nothing pokes (other processes' entries, scheduled ones). */
  pollMs: number;
  /** How long an attempt's outcome waits for others to share its store write (ms); 0 writes at once. */
  settleDelayMs?: number;
  /** The longest an attempt takes (a handler's own timeout): a claimed entry is started only with this much lease left. */
  attemptMs?: number;
}

/** The default of DispatcherOptions.settleDelayMs: short next to a delivery, long enough to batch. */
const SETTLE_DELAY_MS = 5;
/** The default of DispatcherOptions.attemptMs (SPEC 14: 5 s per attempt). */
const ATTEMPT_MS = 5000;
/**
 * Claimed entries held ready beside those in flight, as a multiple of the concurrency. A claim is
 * a store write, queued behind the sends when the store is busy (200 ms and more under W1): one
 * claim must bring enough entries to keep every slot busy until the next one returns.
 */
const READY_FACTOR = 4;

export interface DispatcherObserver {
  attempt(type: string, outcome: "delivered" | "retry" | "failed"): void;
  /** From an entry's creation to its delivery. */
  delivered(type: string, seconds: number): void;
  error(err: unknown): void;
}

const quiet: DispatcherObserver = { attempt() {}, delivered() {}, error() {} };

/**
 * Drains the outbox (one per process): claims due entries with a lease, runs each type's handler
 * with bounded concurrency, and acknowledges, reschedules (backoff with jitter) or fails each.
 * Nothing here is on the send path: a send only writes its entry (in the store) and pokes.
 */
export class Dispatcher {
  private readonly outbox: Outbox;
  private readonly handlers: Map<string, OutboxHandler>;
  private readonly options: DispatcherOptions;
  private readonly observer: DispatcherObserver;
  private inFlight = 0;
  /** Claimed, not started yet, with when their lease ends (ms). */
  private readonly ready: { entry: OutboxEntry; leasedUntil: number }[] = [];
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private again = false;
  private stopped = true;
  private readonly settled: SettleBatch;

  constructor(
    outbox: Outbox,
    handlers: Record<string, OutboxHandler>,
    options: DispatcherOptions,
    observer: DispatcherObserver = quiet,
  ) {
    this.outbox = outbox;
    this.handlers = new Map(Object.entries(handlers));
    this.options = options;
    this.observer = observer;
    this.settled = new SettleBatch(
      outbox,
      options.concurrency,
      options.settleDelayMs ?? SETTLE_DELAY_MS,
      (err) => observer.error(err),
    );
  }

  /** Adds (or replaces) the handler of one type. */
  addHandler(type: string, handler: OutboxHandler): void {
    this.handlers.set(type, handler);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Something was enqueued (or a slot freed): look now rather than at the next poll. */
  poke(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pump();
    }, ms);
    this.timer.unref();
  }

  private async pump(): Promise<void> {
    if (this.stopped || this.pumping) return;
    this.pumping = true;
    let claimed = 0;
    try {
      const { concurrency, leaseMs } = this.options;
      const room = READY_FACTOR * concurrency - this.inFlight - this.ready.length;
      // Claim ahead while fewer than a round of slots' worth are ready.
      if (this.ready.length < concurrency && room > 0) {
        const leasedUntil = Date.now() + leaseMs;
        const entries = await this.outbox.claim(room, leaseMs);
        claimed = entries.length;
        for (const entry of entries) this.ready.push({ entry, leasedUntil });
      }
    } catch (err) {
      this.observer.error(err);
    } finally {
      this.pumping = false;
    }
    this.startReady();
    // A claim that got entries may have left more due: claim again while the ready ones run low.
    const more = this.again || (claimed > 0 && this.ready.length < this.options.concurrency);
    this.again = false;
    this.schedule(more ? 0 : this.options.pollMs);
  }

  /** Starts ready entries in the free slots (no store call: they were claimed ahead). */
  private startReady(): void {
    // (A lease shorter than an attempt plus 1 s still lets entries start right after their claim.)
    const attemptMs = Math.min(this.options.attemptMs ?? ATTEMPT_MS, this.options.leaseMs - 1000);
    while (!this.stopped && this.inFlight < this.options.concurrency) {
      const next = this.ready.shift();
      if (next === undefined) return;
      // Too little lease left to finish an attempt inside it (slow receivers held the slots):
      // left to its lease running out, then claimed again, so no two processes deliver it at once.
      if (next.leasedUntil - Date.now() < attemptMs) continue;
      this.run(next.entry);
    }
  }

  private run(entry: OutboxEntry): void {
    this.inFlight++;
    const task = this.attempt(entry).finally(() => {
      this.inFlight--;
      this.running.delete(task);
      this.startReady();
      if (this.ready.length < this.options.concurrency) this.poke();
    });
    this.running.add(task);
  }

  /**
   * Runs one attempt and hands its outcome to the settle batch: the slot frees as soon as the
   * handler is done, and the outcome is written with others (the entry's lease covers the gap, so
   * no other claim gets it meanwhile).
   */
  private async attempt(entry: OutboxEntry): Promise<void> {
    try {
      this.settled.add(await this.outcome(entry));
    } catch (err) {
      this.observer.error(err);
    }
  }

  private async outcome(entry: OutboxEntry): Promise<OutboxOutcome> {
    const handler = this.handlers.get(entry.type);
    // A type this process does not deliver (not subscribed any more): dropped, not retried.
    if (handler === undefined) return { id: entry.id, action: "ack" };
    try {
      await handler(entry);
    } catch (err) {
      if (err instanceof Deferred)
        return { id: entry.id, action: "reschedule", dueAt: err.until, lastError: "deferred" };
      const failure =
        err instanceof DeliveryError ? err : new DeliveryError((err as Error).message ?? String(err));
      const failures = entry.attempts + 1;
      if (!failure.retry || budgetSpent(failures, this.options.retryBudgetMs)) {
        this.observer.attempt(entry.type, "failed");
        return { id: entry.id, action: "fail", lastError: failure.message };
      }
      this.observer.attempt(entry.type, "retry");
      return {
        id: entry.id,
        action: "reschedule",
        dueAt: Date.now() + retryDelayMs(failures),
        lastError: failure.message,
      };
    }
    this.observer.attempt(entry.type, "delivered");
    this.observer.delivered(entry.type, Math.max(0, Date.now() - entry.createdAt) / 1000);
    return { id: entry.id, action: "ack" };
  }

  /**
   * Stops claiming and waits (at most `waitMs`) for attempts in flight; leases cover the rest
   * (entries claimed ahead and not started are delivered once their leases end).
   */
  async stop(waitMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.ready.length = 0;
    if (this.running.size > 0)
      await Promise.race([
        Promise.allSettled([...this.running]),
        new Promise((resolve) => setTimeout(resolve, waitMs).unref()),
      ]);
    // The outcomes of the attempts that finished are written before the store closes.
    await this.settled.drain();
  }
}
