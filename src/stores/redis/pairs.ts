import { DuetError } from "../../core/errors.js";
import type { MatchResult, Pair, PairScreen, PairStore, Relation, UnmatchResult } from "../../core/pairs.js";
import type { UserEvent } from "../../core/ports/store.js";
import type { PairEvent } from "../../core/types.js";
import type { RedisClient } from "./connection.js";
import { COUNT_SHARDS, type RedisKeys } from "./keys.js";
import type { ScriptArg, ScriptName } from "./scripts.js";

/** What the pairs need of the Redis store: its keys, its deadline-guarded calls and its scripts. */
export interface RedisPairsHost {
  keys: RedisKeys;
  cluster: boolean;
  /** max_events, max_age_ms as the scripts take them. */
  retention: [string, string];
  script(name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown[]>;
  call<T>(request: () => Promise<T>): Promise<T>;
  client: RedisClient;
}

/** Log entries a scrub step reads (and may delete) in one script: a few ms of Redis at most. */
const SCRUB_CHUNK = 200;
/** Pairs listed per user, at most. */
const LIST_LIMIT = 10_000;

/**
 * Pairs on Redis (see PairStore; keys.ts for the keys). The pair's state is a hash in the
 * conversation's slot, next to what a send's script already reads, so the send checks it in
 * the same step (no round trip more). Standalone: a match or the atomic part of an unmatch is
 * one script. Cluster: the conversation step, then each user's step (idempotent: a retry after a
 * crash between steps completes them; an unmatch stays `pending` until they are done).
 * Erasing: the conversation's keys are UNLINKed in the first step (gone from the keyspace at once,
 * freed in the background), then each user's log is scrubbed of the conversation's events, in
 * chunks of SCRUB_CHUNK entries bounded by the log's retention: never a scan of the key space.
 */
export class RedisPairs implements PairStore {
  private readonly h: RedisPairsHost;

  constructor(host: RedisPairsHost) {
    this.h = host;
  }

  private userKeys(user: string): string[] {
    const u = this.h.keys.user(user);
    return [u.seq, u.log, u.pairs, u.convs, u.last, u.rd];
  }

  private events(
    lo: string,
    hi: string,
    s1: number,
    s2: number,
    state: PairEvent["state"],
    erased?: boolean,
  ): UserEvent[] {
    const out: UserEvent[] = [];
    const add = (user: string, peer: string, seq: number) => {
      if (seq <= 0) return;
      const event: PairEvent = { type: "pair", seq, peer, state };
      if (erased !== undefined) event.historyDeleted = erased;
      out.push({ user, event });
    };
    add(lo, hi, s1);
    add(hi, lo, s2);
    return out;
  }

  async match(a: string, b: string, screen: PairScreen | null | undefined): Promise<MatchResult> {
    const [lo, hi] = a < b ? [a, b] : [b, a];
    const pairKey = this.h.keys.conversation(lo, hi).pair;
    const screenArg = screen === undefined ? "-" : (screen ?? "");
    const [maxEvents, maxAge] = this.h.retention;
    let r: unknown[];
    let s1 = 0;
    let s2 = 0;
    if (!this.h.cluster) {
      r = await this.h.script(
        "duetPairMatch",
        [pairKey, ...this.userKeys(lo), ...this.userKeys(hi)],
        [lo, hi, screenArg, maxEvents, maxAge],
      );
      s1 = Number(r[3]);
      s2 = Number(r[4]);
    } else {
      r = await this.h.script("duetPairMatchStep", [pairKey], [screenArg]);
      // Run on an existing pair too: completes a match interrupted between its steps.
      const since = String(r[1]);
      const apply = (owner: string, peer: string) =>
        this.h.script("duetPairApply", this.userKeys(owner), [
          owner,
          peer,
          "matched",
          since,
          "0",
          maxEvents,
          maxAge,
        ]);
      const [first, second] = await Promise.all([apply(lo, hi), apply(hi, lo)]);
      [s1, s2] = [Number(first), Number(second)];
    }
    const pair: Pair = {
      users: [lo, hi],
      since: Number(r[1]),
      screen: r[2] === "" ? null : (String(r[2]) as PairScreen),
    };
    return { pair, created: Number(r[0]) === 1, events: this.events(lo, hi, s1, s2, "matched") };
  }

  async pair(a: string, b: string): Promise<Pair | null> {
    const [lo, hi] = a < b ? [a, b] : [b, a];
    const fields = await this.h.call(() => this.h.client.hgetall(this.h.keys.conversation(lo, hi).pair));
    return pairOf(lo, hi, fields);
  }

  async pairsOf(user: string): Promise<Pair[]> {
    const peers = await this.h.call(() =>
      this.h.client.zrevrange(this.h.keys.user(user).pairs, 0, LIST_LIMIT - 1),
    );
    // Each pair's hash is the truth (its screen may have changed; a stale entry left by an
    // interrupted step is not listed): one pipelined batch.
    const hashes = await Promise.all(
      peers.map((peer) =>
        this.h.call(() => this.h.client.hgetall(this.h.keys.conversation(user, peer).pair)),
      ),
    );
    const pairs: Pair[] = [];
    peers.forEach((peer, i) => {
      const pair = pairOf(user < peer ? user : peer, user < peer ? peer : user, hashes[i] ?? {});
      if (pair !== null) pairs.push(pair);
    });
    return pairs.sort((x, y) => y.since - x.since);
  }

  async relation(a: string, b: string): Promise<Relation> {
    const conv = this.h.keys.conversation(a, b);
    const r = await this.h.script("duetRelation", [conv.pair, conv.blk], [a, b]);
    return {
      pair: r[0] === "m" ? "matched" : r[0] === "u" ? "unmatched" : "none",
      aBlockedB: Number(r[1]) === 1,
      bBlockedA: Number(r[2]) === 1,
    };
  }

  async unmatch(a: string, b: string, erase: boolean, forced = false): Promise<UnmatchResult> {
    // Only with erase (PairStore.unmatch): a forced unmatch that kept the history would be a no-op.
    const force = forced && erase;
    const [lo, hi] = a < b ? [a, b] : [b, a];
    const conv = this.h.keys.conversation(lo, hi);
    const convKeys = [conv.pair, conv.meta, conv.msg, conv.ids, conv.from(lo), conv.from(hi), conv.cmid];
    const [maxEvents, maxAge] = this.h.retention;
    let erased = 0;
    let s1 = 0;
    let s2 = 0;
    let doErase = erase;
    if (!this.h.cluster) {
      const r = await this.h.script(
        "duetPairUnmatch",
        [...convKeys, ...this.userKeys(lo), ...this.userKeys(hi)],
        [lo, hi, erase ? "1" : "0", maxEvents, maxAge, force ? "1" : "0"],
      );
      if (r[0] !== "ok") throw new DuetError("not_found", "These two users are not matched.");
      erased = Number(r[1]);
      s1 = Number(r[2]);
      s2 = Number(r[3]);
    } else {
      const r = await this.h.script("duetPairUnmatchStep", convKeys, [erase ? "1" : "0", force ? "1" : "0"]);
      if (r[0] === "notfound") throw new DuetError("not_found", "These two users are not matched.");
      // A retry of an unmatch a crash interrupted: completed as it was asked the first time.
      if (r[0] === "resume") doErase = r[2] === "1";
      erased = Number(r[1]);
      const apply = (owner: string, peer: string) =>
        this.h.script("duetPairApply", this.userKeys(owner), [
          owner,
          peer,
          "unmatched",
          "",
          doErase ? "1" : "0",
          maxEvents,
          maxAge,
          force ? "1" : "0",
        ]);
      const [first, second] = await Promise.all([apply(lo, hi), apply(hi, lo)]);
      [s1, s2] = [Number(first), Number(second)];
    }
    const work: Promise<unknown>[] = [];
    if (doErase) work.push(this.scrub(lo, hi, s1), this.scrub(hi, lo, s2));
    if (erased > 0) {
      const shard = this.h.keys.count(Math.floor(Math.random() * COUNT_SHARDS));
      work.push(this.h.call(() => this.h.client.incrby(shard, -erased)));
    }
    await Promise.all(work);
    if (this.h.cluster) await this.h.script("duetPairDone", [conv.pair], []);
    return { events: this.events(lo, hi, s1, s2, "unmatched", doErase), erased };
  }

  /**
   * Erases the conversation's events from `owner`'s log, up to its `pair` event (seq `until`; 0
   * when unknown, a resumed unmatch: the whole log), by rebuilding the log without them.
   */
  private async scrub(owner: string, peer: string, until: number): Promise<void> {
    const log = this.h.keys.user(owner).log;
    // Named for the conversation, not at random: a scrub a crash cut short is found again by the
    // next one of the same conversation (a repeated erase), which starts the copy afresh.
    const copy = `${log}:scrub:${peer}`;
    const end = until > 0 ? `(${until}-0` : "+";
    let cursor = "-";
    for (let done = false; !done; ) {
      const r = await this.h.script("duetPairScrub", [log, copy], [peer, cursor, end, SCRUB_CHUNK]);
      done = Number(r[0]) === 1;
      cursor = String(r[1]);
    }
    // Everything after the cursor (the unmatch's event, and what arrived meanwhile) as it is.
    await this.h.script("duetPairScrubFinish", [log, copy], [cursor]);
  }
}

function pairOf(lo: string, hi: string, fields: Record<string, string>): Pair | null {
  if (fields.state !== "m") return null;
  return {
    users: [lo, hi],
    since: Number(fields.since),
    screen: fields.screen === undefined ? null : (fields.screen as PairScreen),
  };
}
