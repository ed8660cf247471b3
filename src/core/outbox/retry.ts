/**
 * The retry schedule of SPEC section 14: after the n-th failed attempt the next one waits about
 * 2^(n-1) s (the first retry within 2 s), doubling up to 1 h, with jitter (half of it random, so
 * receivers that come back are not hit by every process at the same instant); once the nominal
 * waits add up to the retry budget the entry moves to the failed list.
 */
const FIRST_MS = 1000;
const MAX_MS = 3_600_000;

/** The nominal wait after `failures` failed attempts (≥ 1), before jitter. */
export function nominalDelayMs(failures: number): number {
  return Math.min(MAX_MS, FIRST_MS * 2 ** Math.min(31, Math.max(0, failures - 1)));
}

/** The wait after `failures` failed attempts: between half the nominal wait and all of it. */
export function retryDelayMs(failures: number, random = Math.random): number {
  const nominal = nominalDelayMs(failures);
  return Math.round(nominal / 2 + (random() * nominal) / 2);
}

/** Whether an entry that has failed `failures` times has spent its budget (the sum of nominal waits). */
export function budgetSpent(failures: number, budgetMs: number): boolean {
  let total = 0;
  for (let i = 1; i <= failures; i++) {
    total += nominalDelayMs(i);
    if (total >= budgetMs) return true;
  }
  return false;
}
