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
