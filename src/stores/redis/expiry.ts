/**
 * SPEC 15 on Redis and Redis Cluster (see ExpiryStore in core/ports/expiry.ts for the contract;
 * the keys in keys.ts; the scripts in lua/expiry-steps.lua).
 *
 * The sweep: one process at a time holds `{exp}:lease` (SET NX PX through lease.lua, renewed at
 * each sweep; given up on close, so another takes over at once; a process that dies loses it when
 * it lapses). The holder reads the oldest due entries of the global index `{exp}:due` (a bounded
 * ZRANGEBYSCORE, never a scan of the key space), groups them by conversation and erases each
 * conversation's in one script (standalone) or in its slots' steps (cluster: the conversation's,
 * then each side's), then drops the entries from the index. A crash between the steps leaves the
 * entries in the index: the next sweep repeats them, and a repeat erases nothing twice.
 */
import { randomUUID } from "node:crypto";
import type { SweepResult } from "../../core/expiry.js";
import type { ExpiryStore } from "../../core/ports/expiry.js";
import type { UserEvent } from "../../core/ports/store.js";
import type { TtlEvent } from "../../core/types.js";
import type { RedisContext } from "./context.js";
import type { RedisStore } from "./redis-store.js";

export interface RedisExpiryOptions {
  /** How long the sweep lease lasts unless renewed (ms): a dead holder's turn passes after it. */
  leaseMs?: number;
}

export class RedisExpiry implements ExpiryStore {
  private readonly x: RedisContext;
  /** This process's id as the lease holds it. */
  readonly holder = randomUUID();
  private readonly leaseMs: number;

  constructor(store: RedisStore, options: RedisExpiryOptions = {}) {
    this.x = store.internals();
    this.leaseMs = Math.max(100, Math.floor(options.leaseMs ?? 30_000));
  }

  async setTtl(
    user: string,
    peer: string,
    seconds: number,
  ): Promise<{ seconds: number; events: UserEvent[] }> {
    const meta = this.x.keys.conversation(user, peer).meta;
    const a = this.x.keys.user(user);
    const b = this.x.keys.user(peer);
    const value = String(seconds);
    let s1: number;
    let s2: number;
    if (!this.x.cluster) {
      const r = await this.x.run.script(
        "duetTtlSet",
        [meta, a.seq, a.log, b.seq, b.log],
        [user, peer, value, this.x.maxEvents, this.x.maxAgeMs],
      );
      s1 = Number(r[0]);
      s2 = Number(r[1]);
    } else {
      const changed = await this.x.run.script<number>("duetTtlChange", [meta], [value]);
      if (Number(changed) === 0) return { seconds, events: [] };
      const apply = (keys: { seq: string; log: string }, other: string) =>
        this.x.run.script<number>(
          "duetTtlApply",
          [keys.seq, keys.log],
          [other, value, this.x.maxEvents, this.x.maxAgeMs],
        );
      [s1, s2] = (await Promise.all([apply(a, peer), apply(b, user)])).map(Number) as [number, number];
    }
    if (s1 === 0 && s2 === 0) return { seconds, events: [] };
    const event = (owner: string, seq: number, other: string): UserEvent => {
      const e: TtlEvent = { type: "ttl", seq, peer: other, seconds };
      return { user: owner, event: e, json: JSON.stringify(e) };
    };
    return { seconds, events: [event(user, s1, peer), event(peer, s2, user)] };
  }

  async ttl(user: string, peer: string): Promise<number> {
    const meta = this.x.keys.conversation(user, peer).meta;
    return Number((await this.x.run.call(() => this.x.client.hget(meta, "ttl"))) ?? 0);
  }

  /** Takes or renews the sweep lease: whether this process sweeps now. */
  private async lease(): Promise<boolean> {
    const r = await this.x.run.script<number>(
      "duetLease",
      [this.x.keys.expiryLease],
      [this.holder, this.leaseMs],
    );
    return Number(r) === 1;
  }

  async sweep(now: number, limit: number): Promise<SweepResult> {
    if (!(await this.lease())) return { erased: 0, more: false };
    const index = this.x.keys.expiryIndex;
    const due = await this.x.run.call(() =>
      this.x.client.zrangebyscore(index, "-inf", String(now), "LIMIT", 0, limit),
    );
    if (due.length === 0) return { erased: 0, more: false };
    // member: "<id> <from> <to>"; grouped by conversation (lo, hi: the two users sorted).
    const groups = new Map<string, { lo: string; hi: string; ids: string[] }>();
    for (const member of due) {
      const [id = "", from = "", to = ""] = member.split(" ");
      const lo = from < to ? from : to;
      const hi = from < to ? to : from;
      const tag = `${lo} ${hi}`;
      let group = groups.get(tag);
      if (group === undefined) {
        group = { lo, hi, ids: [] };
        groups.set(tag, group);
      }
      group.ids.push(id);
    }
    const erased = await Promise.all([...groups.values()].map((g) => this.expire(g.lo, g.hi, g.ids, now)));
    await this.x.run.call(() => this.x.client.zrem(index, ...due));
    return { erased: erased.reduce((sum, n) => sum + n, 0), more: due.length === limit };
  }

  /** Erases the expired ones of `ids` in the conversation of lo and hi; how many it erased. */
  private async expire(lo: string, hi: string, ids: string[], now: number): Promise<number> {
    const conv = this.x.keys.conversation(lo, hi);
    const l = this.x.keys.user(lo);
    const h = this.x.keys.user(hi);
    const convKeys = [conv.msg, conv.exp, conv.from(lo), conv.from(hi)];
    if (!this.x.cluster) {
      const r = await this.x.run.script<number>(
        "duetExpire",
        [...convKeys, l.log, l.last, h.log, h.last],
        [lo, hi, now, ...ids],
      );
      return Number(r);
    }
    const pairs = (await this.x.run.script("duetExpireConv", convKeys, [lo, now, ...ids])) as string[];
    if (pairs.length === 0) return 0;
    await Promise.all([
      this.x.run.script("duetExpireUser", [l.log, l.last], [hi, ...pairs]),
      this.x.run.script("duetExpireUser", [h.log, h.last], [lo, ...pairs]),
    ]);
    return pairs.length / 2;
  }

  async close(): Promise<void> {
    await this.x.run.script("duetLeaseRelease", [this.x.keys.expiryLease], [this.holder]).catch(() => {});
  }
}
