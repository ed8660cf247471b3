import type { LatencySummary } from "./protocol.js";

/** A growable array of latency samples (ms) with exact percentiles. */
export class Samples {
  private data = new Float64Array(1 << 16);
  private n = 0;

  add(value: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = value;
  }

  reset(): void {
    this.n = 0;
  }

  /** A copy of the samples, in the order they were added. */
  values(): Float64Array {
    return this.data.slice(0, this.n);
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    if (this.n === 0) return { p50: 0, p99: 0, max: 0, mean: 0, samples: 0 };
    const sorted = this.data.slice(0, this.n).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted.at(-1) ?? 0,
      mean: sum / sorted.length,
      samples: sorted.length,
    };
  }
}

/** Nearest-rank quantile of sorted values. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const upper = sorted[mid] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] ?? Number.NaN) + upper) / 2;
}

/** A growable set of small non-negative integers (per-sender message seqs). */
export class BitSet {
  private bits = new Uint8Array(64);

  has(i: number): boolean {
    const byte = i >> 3;
    return ((this.bits[byte] ?? 0) & (1 << (i & 7))) !== 0;
  }

  add(i: number): void {
    const byte = i >> 3;
    if (byte >= this.bits.length) {
      const bigger = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      bigger.set(this.bits);
      this.bits = bigger;
    }
    this.bits[byte] = (this.bits[byte] ?? 0) | (1 << (i & 7));
  }

  /** How many members of `this` are missing from `other`. */
  countMissingFrom(other: BitSet): number {
    let missing = 0;
    for (const [byte, mine] of this.bits.entries()) {
      if (mine === 0) continue;
      const theirs = other.bits[byte] ?? 0;
      let diff = mine & ~theirs;
      while (diff !== 0) {
        diff &= diff - 1;
        missing++;
      }
    }
    return missing;
  }
}
