import type { Redis } from "ioredis";
import type { UserDataStore } from "../../core/ports/user-data.js";
import type { Report } from "../../core/safety/reports.js";
import type { RedisContext } from "./context.js";
import type { RedisStore } from "./redis-store.js";

/** SPEC 15's reads and writes about one user on Redis (see UserDataStore; keys in keys.ts). */
export class RedisUserData implements UserDataStore {
  private readonly x: RedisContext;
  private readonly reportsKey: string;

  constructor(store: RedisStore) {
    this.x = store.internals();
    this.reportsKey = `${this.x.keys.prefix}{reports}:r`;
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
