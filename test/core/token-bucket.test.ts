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
  // [when, the answer a 2/s bucket of 3 must give]: the burst of 3 at once, then refused (wait 1 s)
  // until 500 ms have brought one token back, then full again after a minute. Both the bare
  // bucket and the limiter are held to these figures, not to each other (which any bug shared by
  // the two would pass).
  const expected: [number, number][] = [
    [t, 0],
    [t, 0],
    [t, 0],
    [t, 1],
    [t + 499, 1],
    [t + 500, 0],
    [t + 500, 1],
    [t + 60_000, 0],
    [t + 60_000, 0],
    [t + 60_000, 0],
    [t + 60_000, 1],
  ];
  for (const [now, wait] of expected) {
    assert.equal(takeToken(bucket, rate, burst, now), wait, `takeToken at ${now - t} ms`);
    assert.equal(limiter.take("k", now), wait, `RateLimiter at ${now - t} ms`);
  }
  // The burst is spent at once, then one token per 1/rate s; the wait is whole seconds, at least 1.
  const fresh: Bucket = { tokens: 1, at: 0 };
  assert.equal(takeToken(fresh, 1, 1, 5000), 0);
  assert.equal(takeToken(fresh, 1, 1, 5000), 1);
  assert.equal(takeToken(fresh, 1, 1, 5999), 1);
  assert.equal(takeToken(fresh, 1, 1, 6000), 0);
});
