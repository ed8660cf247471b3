/**
 * SPEC 15, disappearing messages: the rules every store shares. A message sent while its
 * conversation has a ttl (or the server default applies) carries `expiresAt`; from that moment it
 * reads as the tombstone an unsend leaves (expiredView), whether or not the sweeper has erased it
 * yet, and the sweeper (ExpirySweeper) erases its content within a tick.
 */
import { DuetError } from "./errors.js";
import type { Message, Tombstone } from "./types.js";

/** The per-conversation setting's range (s): a minute to 90 days; 0 turns it off. */
export const MIN_TTL_S = 60;
export const MAX_TTL_S = 90 * 86_400;

/** Validates the `seconds` of PUT /v1/conversations/:peer/ttl: 0, or an integer 60 s … 90 days. */
export function ttlSeconds(value: unknown): number {
  if (
    typeof value !== "number" ||
    !Number.isInteger(value) ||
    (value !== 0 && (value < MIN_TTL_S || value > MAX_TTL_S))
  )
    throw new DuetError(
      "invalid_input",
      `seconds must be 0 (off) or an integer from ${MIN_TTL_S} to ${MAX_TTL_S} (90 days).`,
    );
  return value;
}

/** The tombstone an expired message becomes: what an unsend leaves, deleted at its expiry time. */
export function expiredTombstone(message: Message, expiresAt: number): Message {
  const tombstone: Tombstone = {
    id: message.id,
    from: message.from,
    to: message.to,
    ts: message.ts,
    kind: "deleted",
    deletedAt: expiresAt,
  };
  return tombstone as unknown as Message;
}

/**
 * The message as a reader may see it at `now`: itself, or its tombstone once `expiresAt` has
 * passed (the sweeper may not have erased it yet). One property test for a plain message.
 */
export function expiredView(message: Message, now: number): Message {
  const at = message.expiresAt;
  return at === undefined || at > now ? message : expiredTombstone(message, at);
}

/** What a sweep of one store did. */
export interface SweepResult {
  /** Messages erased. */
  erased: number;
  /** True when more were due than one batch took: sweep again soon. */
  more: boolean;
}

/** The part of a store the sweeper drives (ExpiryStore.sweep). */
export interface Sweepable {
  /** Erases up to `limit` messages whose expiresAt <= `now`, like unsends. */
  sweep(now: number, limit: number): Promise<SweepResult>;
}

export interface SweeperOptions {
  /** Time between ticks (ms). */
  intervalMs: number;
  /** Messages erased per store call (one transaction / one round of scripts). */
  batch?: number;
  /** Messages erased per tick at most, so a backlog never holds the store for long. */
  maxPerTick?: number;
  /** Told of each tick's outcome (metrics, logs); failures are retried at the next tick. */
  onTick?(erased: number, error: unknown): void;
}

/**
 * Runs the store's sweep every `intervalMs`: batches of `batch` until nothing more is due or
 * `maxPerTick` are done, yielding to the event loop between batches (sends go on meanwhile).
 * With the default interval (10 s), an expired message is erased well within SPEC 15's 60 s.
 */
export class ExpirySweeper {
  private readonly store: Sweepable;
  private readonly options: Required<Omit<SweeperOptions, "onTick">> & Pick<SweeperOptions, "onTick">;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(store: Sweepable, options: SweeperOptions) {
    this.store = store;
    this.options = { batch: 500, maxPerTick: 20_000, ...options };
  }

  start(): void {
    this.schedule(this.options.intervalMs);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().then((more) => {
        this.running = null;
        // A backlog (more than maxPerTick due) is taken again at once, after other work.
        this.schedule(more ? 0 : this.options.intervalMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** One tick: whether more were due than it took. Never rejects. */
  async tick(now = Date.now()): Promise<boolean> {
    let erased = 0;
    let taken = 0;
    let more = false;
    let error: unknown = null;
    try {
      for (;;) {
        const result = await this.store.sweep(now, this.options.batch);
        erased += result.erased;
        taken += this.options.batch;
        if (!result.more || this.stopped) break;
        if (taken >= this.options.maxPerTick) {
          more = true;
          break;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      error = err;
    }
    if (erased > 0 || error !== null) this.options.onTick?.(erased, error);
    return more;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.running;
  }
}
