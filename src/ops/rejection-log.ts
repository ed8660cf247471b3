import type { Logger } from "../log.js";

/** The kinds of refusal an operator watches, by HTTP status (new error codes fall in by theirs). */
const KIND_BY_STATUS: Readonly<Record<number, string>> = {
  401: "auth",
  429: "rate_limited",
  413: "too_large",
  431: "too_large",
};

interface KindState {
  lastLoggedAt: number;
  counts: Map<string, number>;
  timer: NodeJS.Timeout | undefined;
}

export interface RejectionLogOptions {
  /** At most one line per kind this often (ms). */
  windowMs?: number;
}

/**
 * Refused requests (bad tokens, rate limits, oversized bodies) summarised in the log: the first
 * of a kind is logged at once, the ones after it within the window are counted and logged as one
 * line when the window ends, so a flood costs one line a minute per kind, never one per request.
 */
export class RejectionLog {
  private readonly log: Logger;
  private readonly windowMs: number;
  private readonly kinds = new Map<string, KindState>();

  constructor(log: Logger, options: RejectionLogOptions = {}) {
    this.log = log;
    this.windowMs = options.windowMs ?? 60_000;
  }

  /** An error answer; counted if its status is one of the watched kinds. */
  note(code: string, status: number): void {
    const kind = KIND_BY_STATUS[status];
    if (kind === undefined) return;
    let state = this.kinds.get(kind);
    if (state === undefined) {
      state = { lastLoggedAt: Number.NEGATIVE_INFINITY, counts: new Map(), timer: undefined };
      this.kinds.set(kind, state);
    }
    state.counts.set(code, (state.counts.get(code) ?? 0) + 1);
    if (state.timer !== undefined) return;
    const wait = state.lastLoggedAt + this.windowMs - Date.now();
    if (wait <= 0) {
      this.flush(kind, state);
      return;
    }
    const s = state;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      this.flush(kind, s);
    }, wait);
    s.timer.unref();
  }

  /** Logs what is still counted, and stops the timers. */
  close(): void {
    for (const [kind, state] of this.kinds) {
      clearTimeout(state.timer);
      state.timer = undefined;
      this.flush(kind, state);
    }
  }

  private flush(kind: string, state: KindState): void {
    if (state.counts.size === 0) return;
    let count = 0;
    const codes: Record<string, number> = {};
    for (const [code, n] of state.counts) {
      codes[code] = n;
      count += n;
    }
    state.counts.clear();
    const sinceMs = Number.isFinite(state.lastLoggedAt) ? Date.now() - state.lastLoggedAt : undefined;
    state.lastLoggedAt = Date.now();
    this.log.warn({ msg: "requests rejected", kind, count, codes, sinceMs });
  }
}
