import type { CommandRunner } from "./command-runner.js";
import type { RedisClient } from "./connection.js";
import { COUNT_SHARDS, type RedisKeys } from "./keys.js";

/** How long a process keeps its count of new messages before adding it to Redis (ms). */
const FLUSH_MS = 1000;

/**
 * The messages-stored statistic (admin stats: Store.countMessages), kept off the send path: each
 * process counts the messages it stored and adds the count to one of Redis's shared counters
 * (`{n<k>}:count`, spread over the slots) at most once a second, and before it reads them or
 * closes. A send's script no longer INCRs a counter: one command and one key fewer per message.
 * What the count gives up: another process's last second, and the last second of a process that
 * dies without closing (a statistic, not data: no message, event or cursor depends on it).
 */
export class MessageCount {
  /** Flushes written so far (RedisStore.roundTrips leaves them out: they are no operation's). */
  flushes = 0;
  private pending = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly client: RedisClient;
  private readonly run: CommandRunner;
  private readonly keys: RedisKeys;

  constructor(client: RedisClient, run: CommandRunner, keys: RedisKeys) {
    this.client = client;
    this.run = run;
    this.keys = keys;
  }

  /** `n` messages stored (negative: erased) by this process. */
  add(n: number): void {
    this.pending += n;
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.flush().catch(() => {});
      }, FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Adds what this process counted to Redis; on failure keeps it for the next flush. */
  async flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const n = this.pending;
    if (n === 0) return;
    this.pending = 0;
    const key = this.keys.count(Math.floor(Math.random() * COUNT_SHARDS));
    this.flushes++;
    try {
      await this.run.call(() => this.client.incrby(key, n));
    } catch (err) {
      this.add(n);
      throw err;
    }
  }

  /** The sum of the shared counters, this process's count added first. */
  async total(cluster: boolean): Promise<number> {
    await this.flush();
    const keys = Array.from({ length: COUNT_SHARDS }, (_, i) => this.keys.count(i));
    const values = cluster
      ? await Promise.all(keys.map((key) => this.run.call(() => this.client.get(key))))
      : await this.run.call(() => this.client.mget(keys));
    return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
  }

  /** At close: what is left, once, if Redis is there to take it (never waits for a reconnection); no timer stays. */
  close(): Promise<void> {
    if (this.client.status !== "ready") {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      return Promise.resolve();
    }
    return this.flush().catch(() => {});
  }
}
