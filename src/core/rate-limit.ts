/** A token bucket's state: two numbers, kept wherever is cheapest (a map entry, a connection). */
export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms since the epoch); 0 for a bucket never used. */
  at: number;
}

/**
 * Takes one token from `bucket`, which refills at `rate` a second up to `burst`; returns 0 when
 * allowed, else the seconds until one is available. A bucket starts full: `{tokens: burst, at: 0}`.
 */
export function takeToken(bucket: Bucket, rate: number, burst: number, now: number): number {
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * rate) / 1000);
  bucket.at = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
}

/**
 * Token buckets per key: `rate` tokens a second, at most `burst` saved up. Buckets that have
 * refilled completely carry no information and are dropped by `prune`, so memory follows the
 * number of recently active keys. (A single bucket per connection needs no map: see `takeToken`.)
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;

  constructor(rate: number, burst: number) {
    this.rate = rate;
    this.burst = burst;
  }

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take(key: string, now = Date.now()): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    }
    return takeToken(bucket, this.rate, this.burst, now);
  }

  prune(now = Date.now()): void {
    const full = (this.burst * 1000) / this.rate;
    for (const [key, bucket] of this.buckets) if (now - bucket.at >= full) this.buckets.delete(key);
  }
}
