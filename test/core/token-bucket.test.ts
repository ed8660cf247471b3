/** `takeToken`: the token bucket without a map, as a connection keeps it (two numbers). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Bucket, RateLimiter, takeToken } from "../../src/core/rate-limit.js";

test("a bucket that starts full ({tokens: burst, at: 0}) behaves like a RateLimiter key", () => {
  const rate = 2;
  const burst = 3;
  const bucket: Bucket = { tokens: burst, at: 0 };
  const limiter = new RateLimiter(rate, burst);
  const t = 1_000_000;
  for (const now of [t, t, t, t, t + 499, t + 500, t + 500, t + 60_000, t + 60_000, t + 60_000, t + 60_000]) {
    assert.equal(takeToken(bucket, rate, burst, now), limiter.take("k", now), `at ${now}`);
  }
  // The burst is spent at once, then one token per 1/rate s; the wait is whole seconds, at least 1.
  const fresh: Bucket = { tokens: 1, at: 0 };
  assert.equal(takeToken(fresh, 1, 1, 5000), 0);
  assert.equal(takeToken(fresh, 1, 1, 5000), 1);
  assert.equal(takeToken(fresh, 1, 1, 5999), 1);
  assert.equal(takeToken(fresh, 1, 1, 6000), 0);
});
