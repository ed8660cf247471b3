import { randomFillSync } from "node:crypto";

/** Crockford base32, the ULID alphabet: ids sort as strings in the order they were made. */
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_CHARS = 16;

/**
 * Makes ULIDs (26 characters: 10 of milliseconds, 16 of randomness) that strictly increase within
 * the process, even within one millisecond or if the clock steps back: then the previous id's
 * random part is incremented. Randomness is drawn from a pooled buffer, not a syscall per id.
 */
export class MonotonicUlid {
  private lastTime = -1;
  /** encodeTime(timeOf), kept: ids made within one millisecond share it. */
  private timePart = "";
  private timeOf = -1;
  private lastRandom: number[] = [];
  private pool = Buffer.alloc(0);
  private poolOffset = 0;

  next(now = Date.now()): string {
    if (now > this.lastTime) {
      this.lastTime = now;
      this.lastRandom = this.freshRandom();
    } else {
      this.increment();
    }
    if (this.lastTime !== this.timeOf) {
      this.timeOf = this.lastTime;
      this.timePart = encodeTime(this.lastTime);
    }
    let id = this.timePart;
    for (const d of this.lastRandom) id += ALPHABET[d];
    return id;
  }

  private freshRandom(): number[] {
    if (this.poolOffset + RANDOM_CHARS > this.pool.length) {
      this.pool = randomFillSync(Buffer.alloc(4096));
      this.poolOffset = 0;
    }
    const out = new Array<number>(RANDOM_CHARS);
    for (let i = 0; i < RANDOM_CHARS; i++) out[i] = this.pool.readUInt8(this.poolOffset++) & 31;
    // Leave headroom so increments within one millisecond never overflow the random part.
    out[0] = (out[0] ?? 0) & 15;
    return out;
  }

  private increment(): void {
    const r = this.lastRandom;
    for (let i = RANDOM_CHARS - 1; i >= 0; i--) {
      const digit = r[i] ?? 0;
      if (digit < 31) {
        r[i] = digit + 1;
        return;
      }
      r[i] = 0;
    }
    // 2^79 ids in one millisecond: move to the next millisecond instead of wrapping.
    this.lastTime++;
  }
}

function encodeTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}
