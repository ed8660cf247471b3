import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MonotonicUlid } from "../../src/core/ids.js";
import { at } from "../helpers/kit.js";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const timeOf = (id: string) => [...id.slice(0, 10)].reduce((t, c) => t * 32 + ALPHABET.indexOf(c), 0);

describe("MonotonicUlid", () => {
  it("makes 26-character ULIDs whose first 10 characters encode the millisecond", () => {
    const ids = new MonotonicUlid();
    const now = Date.UTC(2026, 10, 26, 12, 0, 0, 123);
    const id = ids.next(now);
    assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(timeOf(id), now);
    assert.equal(timeOf(ids.next(now + 5)), now + 5);
  });

  it("strictly increases within one millisecond, across milliseconds, and when the clock steps back", () => {
    const ids = new MonotonicUlid();
    const t = 1_700_000_000_000;
    const made = [
      ...Array.from({ length: 5000 }, () => ids.next(t)),
      ids.next(t + 1),
      ...Array.from({ length: 100 }, () => ids.next(t - 60_000)),
      ids.next(t + 2),
    ];
    for (let i = 1; i < made.length; i++)
      assert.ok(at(made, i) > at(made, i - 1), `${at(made, i - 1)} < ${at(made, i)}`);
    assert.equal(new Set(made).size, made.length);
    // Ids made while the clock was behind keep the newest millisecond seen.
    assert.equal(timeOf(at(made, 5001)), t + 1);
  });

  it("draws fresh randomness for each new millisecond", () => {
    const ids = new MonotonicUlid();
    const randomParts = new Set(
      Array.from({ length: 200 }, (_, i) => ids.next(1_700_000_000_000 + i).slice(10)),
    );
    assert.equal(randomParts.size, 200);
  });
});
