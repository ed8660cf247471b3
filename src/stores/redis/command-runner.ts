import { DuetError } from "../../core/errors.js";
import { onData, type RedisClient, tickBatcher } from "./connection.js";
import { type ScriptArg, type ScriptName, Scripts } from "./scripts.js";

/** The outcome of a call that came after its caller was answered store_unavailable. */
export type Late<T> = { value: T } | { error: unknown };

export interface CommandRunnerOptions {
  /** See RedisStoreOptions.timeoutMs. */
  timeoutMs: number;
  /** See RedisStoreOptions.maxInFlight. */
  maxInFlight: number;
}

/** A call that has been written to Redis and not answered yet. */
interface Pending {
  /** When it was made (performance.now()). */
  at: number;
  /** Its caller was answered store_unavailable already; a late answer goes to its `late` handler. */
  expired: boolean;
  fail: (err: DuetError) => void;
}

/**
 * The store's command plumbing: every request to Redis goes through `call`, which counts it, batches
 * it with the others of the turn, bounds how many wait, and fails it with store_unavailable (never
 * another error) when Redis stops answering. The store's operations (send.ts, read-marks.ts, ...)
 * only say which script or command to run and decode the reply (replies.ts).
 */
export class CommandRunner {
  /** Redis requests made so far: one per script or command (or MULTI). Tests count them per send. */
  roundTrips = 0;
  /** The scripts, for parts of the store that run them through `call` themselves (redis-outbox.ts). */
  readonly scripts: Scripts;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  /** Calls written and not answered yet, oldest first (including those already failed by the deadline). */
  private readonly pending = new Set<Pending>();
  /** Redis answered something since the watchdog's last tick. */
  private answeredSinceTick = false;
  /** How long (ms, by the watchdog's ticks) calls have been waiting with no answer from Redis. */
  private silentMs = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly batch: () => void;
  private closed = false;

  constructor(client: RedisClient, options: CommandRunnerOptions) {
    this.scripts = new Scripts(client);
    this.batch = tickBatcher(client);
    this.timeoutMs = options.timeoutMs;
    this.maxInFlight = options.maxInFlight;
    onData(client, () => {
      this.answeredSinceTick = true;
    });
  }

  /**
   * One request; any failure to get an answer is store_unavailable. A request written to Redis
   * cannot be withdrawn: under load it waits its turn, and it fails only once Redis has answered
   * nothing at all for `timeoutMs` (it hangs, or the link is dead). Then `late` gets its outcome
   * when one comes, so a write that committed anyway is not lost to open connections. While Redis
   * is silent, or when `maxInFlight` calls are waiting already, a new call is refused before
   * anything is written: that answer is true (nothing was stored).
   */
  call<T>(request: () => Promise<T>, late?: (outcome: Late<T>) => void): Promise<T> {
    if (this.closed) return Promise.reject(new DuetError("store_unavailable", "The store is closed."));
    const now = performance.now();
    if (this.pending.size > 0) {
      if (this.pending.size >= this.maxInFlight)
        return Promise.reject(
          new DuetError("store_unavailable", `Redis: ${this.pending.size} requests waiting already.`),
        );
      if (this.silentMs >= this.timeoutMs)
        return Promise.reject(new DuetError("store_unavailable", `Redis: no answer for ${this.silentMs} ms`));
    }
    this.roundTrips++;
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { at: now, expired: false, fail: reject };
      this.pending.add(entry);
      if (this.watchdog === undefined) this.startWatchdog();
      this.batch();
      let answer: Promise<T>;
      try {
        answer = request();
      } catch (err) {
        this.pending.delete(entry);
        reject(unavailable(err));
        return;
      }
      answer.then(
        (value) => {
          this.answered(entry);
          if (!entry.expired) resolve(value);
          else late?.({ value });
        },
        (err: unknown) => {
          this.answered(entry);
          if (!entry.expired) reject(unavailable(err));
          else late?.({ error: err });
        },
      );
    });
  }

  /** One of duet's scripts (scripts.ts): its keys, then its arguments; most reply with an array. */
  script<T = unknown[]>(
    name: ScriptName,
    keys: readonly string[],
    args: readonly ScriptArg[],
    late?: (outcome: Late<T>) => void,
  ): Promise<T> {
    return this.call(() => this.scripts.run(name, keys, args) as Promise<T>, late);
  }

  /** `script` with keys and arguments in one array (no copy: for the send script's 24 values). */
  scriptFlat(
    name: ScriptName,
    keysAndArgs: ScriptArg[],
    late?: (outcome: Late<unknown[]>) => void,
  ): Promise<unknown[]> {
    return this.call(() => this.scripts.runFlat(name, keysAndArgs) as Promise<unknown[]>, late);
  }

  private answered(entry: Pending): void {
    this.answeredSinceTick = true;
    this.pending.delete(entry);
  }

  /**
   * One timer for all calls, running while any waits. Silence is counted in ticks: a tick that
   * comes late because this process was busy counts as one interval, since replies that arrived
   * meanwhile are read only after the timers run (a busy process must not blame Redis).
   */
  private startWatchdog(): void {
    const every = Math.max(10, Math.floor(this.timeoutMs / 5));
    this.silentMs = 0;
    this.answeredSinceTick = false;
    this.watchdog = setInterval(() => {
      if (this.pending.size === 0) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
        this.silentMs = 0;
        return;
      }
      if (this.answeredSinceTick) {
        this.answeredSinceTick = false;
        this.silentMs = 0;
        return;
      }
      this.silentMs += every;
      if (this.silentMs < this.timeoutMs) return;
      const now = performance.now();
      for (const entry of this.pending) {
        if (now - entry.at < this.timeoutMs) break;
        if (entry.expired) continue;
        entry.expired = true;
        entry.fail(new DuetError("store_unavailable", `Redis: no answer for ${this.silentMs} ms`));
      }
    }, every);
    this.watchdog.unref();
  }

  /** Refuses new calls; calls already written still settle. */
  close(): void {
    this.closed = true;
    clearInterval(this.watchdog);
  }
}

export function unavailable(err: unknown): DuetError {
  if (err instanceof DuetError) return err;
  return new DuetError("store_unavailable", `Redis: ${(err as Error).message}`);
}
