import type { DuetError } from "../core/errors.js";
import type { Store } from "../core/ports/store.js";
import type { Logger } from "../log.js";

export interface StoreHealthOptions {
  /** How often the store is pinged while it answers (ms): an outage is seen without traffic too. */
  checkMs?: number;
  /** How often it is pinged during an outage (ms): the end is logged this soon after it. */
  downCheckMs?: number;
}

/**
 * Whether the store answers, told to the operator once per outage: one warning when it begins
 * (the first request refused with store_unavailable, or the first failed ping) with the store's
 * own words for the cause, and one line when it ends, with how long it lasted and how many
 * requests were refused meanwhile. A thousand refused sends are one count, not a thousand lines.
 */
export class StoreHealth {
  private readonly store: Pick<Store, "name" | "ping">;
  private readonly log: Logger;
  private readonly checkMs: number;
  private readonly downCheckMs: number;
  private downSince: number | undefined;
  private refusedCount = 0;
  private checking = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(store: Pick<Store, "name" | "ping">, log: Logger, options: StoreHealthOptions = {}) {
    this.store = store;
    this.log = log;
    this.checkMs = options.checkMs ?? 5000;
    this.downCheckMs = options.downCheckMs ?? 500;
    this.schedule(this.checkMs);
  }

  get available(): boolean {
    return this.downSince === undefined;
  }

  /** A request was answered store_unavailable. */
  refused(err: DuetError): void {
    if (this.closed) return;
    if (this.downSince === undefined) this.begin(err.detail ?? err.message);
    this.refusedCount++;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private schedule(every: number): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.check(), every);
    this.timer.unref();
  }

  private begin(cause: string): void {
    this.downSince = performance.now();
    this.refusedCount = 0;
    this.log.warn({ msg: "store unavailable", store: this.store.name, cause });
    this.schedule(this.downCheckMs);
  }

  private end(): void {
    const downMs = Math.round(performance.now() - (this.downSince ?? 0));
    this.downSince = undefined;
    this.log.warn({
      msg: "store available again",
      store: this.store.name,
      downMs,
      refused: this.refusedCount,
    });
    this.refusedCount = 0;
    this.schedule(this.checkMs);
  }

  private check(): void {
    if (this.checking || this.closed) return;
    this.checking = true;
    const startedAt = performance.now();
    this.store.ping().then(
      () => {
        this.checking = false;
        // A ping sent before the outage began says nothing about its end.
        if (!this.closed && this.downSince !== undefined && startedAt > this.downSince) this.end();
      },
      (err: unknown) => {
        this.checking = false;
        if (this.closed || this.downSince !== undefined) return;
        const e = err as Partial<DuetError>;
        this.begin(e.detail ?? e.message ?? String(err));
      },
    );
  }
}
