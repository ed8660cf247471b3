export interface BackoffOptions {
  /** First retry delay, before jitter (default 500 ms). */
  initialMs?: number;
  /** Upper bound of the delay (default 15 s). */
  maxMs?: number;
}

/**
 * Exponential backoff with "equal jitter": attempt n waits between half and all of
 * min(maxMs, initialMs * 2^n), so clients cut off together do not come back together.
 */
export function backoffDelay(
  attempt: number,
  options: Required<BackoffOptions>,
  random = Math.random,
): number {
  const cap = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/** At most `perMinute` connection attempts in any rolling minute, however they end. */
export class AttemptCap {
  private readonly perMinute: number;
  /** When recent attempts started, oldest first. */
  private readonly startedAt: number[] = [];

  constructor(perMinute: number) {
    this.perMinute = perMinute;
  }

  record(): void {
    this.startedAt.push(Date.now());
  }

  /** How long until another attempt fits under the cap (0: now). */
  delay(): number {
    const now = Date.now();
    let oldest = this.startedAt[0];
    while (oldest !== undefined && now - oldest >= 60_000) {
      this.startedAt.shift();
      oldest = this.startedAt[0];
    }
    if (oldest === undefined || this.startedAt.length < this.perMinute) return 0;
    return oldest + 60_000 - now;
  }
}
