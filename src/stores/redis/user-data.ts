import type { Redis } from "ioredis";
import type { UserDataStore } from "../../core/ports/user-data.js";
import type { Report } from "../../core/safety/reports.js";
import type { RedisContext } from "./context.js";
import type { RedisStore } from "./redis-store.js";

/** SPEC 15's reads and writes about one user on Redis (see UserDataStore; keys in keys.ts). */
export class RedisUserData implements UserDataStore {
  private readonly x: RedisContext;
  private readonly reportsKey: string;
  /** user -> erase time (ms): one small zset, read by every process's refresh. */
  private readonly erasedKey: string;

  constructor(store: RedisStore) {
    this.x = store.internals();
    this.reportsKey = `${this.x.keys.prefix}{reports}:r`;
    this.erasedKey = `${this.x.keys.prefix}erased`;
  }

  /** A user key beside keys.ts's (same hash tag, so the same slot), as lifecycle.ts makes them. */
  private userKey(user: string, name: string): string {
    return `${this.x.keys.user(user).seq.slice(0, -3)}${name}`;
  }

  private call<T>(request: () => Promise<T>): Promise<T> {
    return this.x.run.call(request);
  }

  async peers(user: string): Promise<string[]> {
    const u = this.x.keys.user(user);
    // Both in the user's slot; a user's conversations number thousands at most, not messages.
    const [listed, paired] = await Promise.all([
      this.call(() => this.x.client.zrange(u.convs, "0", "-1")),
      this.call(() => this.x.client.zrange(u.pairs, "0", "-1")),
    ]);
    return [...new Set([...listed, ...paired])].sort();
  }

  async markErased(user: string, at: number): Promise<void> {
    // GT: a repeat never moves the mark back.
    await this.call(() => this.x.client.zadd(this.erasedKey, "GT", at, user));
  }

  async erasedSince(since: number): Promise<Map<string, number>> {
    const flat = await this.call(() =>
      this.x.client.zrangebyscore(this.erasedKey, since, "+inf", "WITHSCORES"),
    );
    const out = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] ?? "", Number(flat[i + 1]));
    return out;
  }

  async noteErasing(user: string, peers: readonly string[]): Promise<void> {
    if (peers.length === 0) return;
    await this.call(() => this.x.client.sadd(this.userKey(user, "erasing"), ...peers));
  }

  async erasing(user: string): Promise<string[]> {
    return (await this.call(() => this.x.client.smembers(this.userKey(user, "erasing")))).sort();
  }

  async erasingDone(user: string, peer: string): Promise<void> {
    await this.call(() => this.x.client.srem(this.userKey(user, "erasing"), peer));
  }

  async forgetPair(a: string, b: string): Promise<void> {
    const pair = this.x.keys.conversation(a, b).pair;
    // Only an unmatched pair with no unmatch under way (cluster: `pending` until its steps ran).
    await this.call(() =>
      this.x.client.eval(
        `if redis.call("HGET", KEYS[1], "state") == "u" and redis.call("HEXISTS", KEYS[1], "pending") == 0 then
           return redis.call("DEL", KEYS[1])
         end
         return 0`,
        1,
        pair,
      ),
    );
  }

  async eraseRest(user: string): Promise<void> {
    const u = this.x.keys.user(user);
    // One slot (the user's hash tag): one UNLINK. `seq` stays, so seqs never repeat for the id.
    // Presence (`pr`: connection counts per process, last seen) stays: closing connections still
    // count down in it; it holds no content.
    const keys = [u.log, u.convs, u.last, u.rd, u.ap, u.blocks, u.pairs, u.cmid, u.push];
    for (const name of ["set", "mute", "erasing"]) keys.push(this.userKey(user, name));
    await this.call(() => this.x.client.unlink(...keys));
  }

  async *reportsFiledBy(user: string, batch: number): AsyncIterable<Report[]> {
    // HSCAN walks the reports hash in bounded steps; a report seen twice (the hash rehashed
    // meanwhile) is yielded once.
    const seen = new Set<string>();
    let cursor = "0";
    do {
      const [next, flat] = await this.call(() =>
        (this.x.client as Redis).hscan(this.reportsKey, cursor, "COUNT", batch),
      );
      cursor = next;
      const mine: Report[] = [];
      for (let i = 1; i < flat.length; i += 2) {
        const report = JSON.parse(flat[i] ?? "null") as Report | null;
        if (report === null || report.reporter !== user || seen.has(report.id)) continue;
        seen.add(report.id);
        mine.push(report);
      }
      if (mine.length > 0) yield mine;
    } while (cursor !== "0");
  }
}
