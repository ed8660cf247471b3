import type { Ban, BanStore } from "../../core/bans.js";
import type { RedisClient } from "./connection.js";

export interface RedisBansHost {
  /** The hash of every ban: user -> JSON {reason, until}. One key (one slot on a cluster). */
  key: string;
  call<T>(request: () => Promise<T>): Promise<T>;
  client: RedisClient;
}

/**
 * Bans on Redis (see BanStore): one hash, read whole by each process's refresh (bans are few;
 * expired entries are removed on the way).
 */
export class RedisBans implements BanStore {
  private readonly h: RedisBansHost;

  constructor(host: RedisBansHost) {
    this.h = host;
  }

  async ban(user: string, ban: Ban): Promise<void> {
    await this.h.call(() => this.h.client.hset(this.h.key, user, JSON.stringify(ban)));
  }

  async unban(user: string): Promise<boolean> {
    return (await this.h.call(() => this.h.client.hdel(this.h.key, user))) > 0;
  }

  async banOf(user: string, now = Date.now()): Promise<Ban | null> {
    const json = await this.h.call(() => this.h.client.hget(this.h.key, user));
    const ban = json === null ? null : parse(json);
    return ban !== null && (ban.until === null || ban.until > now) ? ban : null;
  }

  async active(now = Date.now()): Promise<Map<string, Ban>> {
    const all = await this.h.call(() => this.h.client.hgetall(this.h.key));
    const out = new Map<string, Ban>();
    const expired: string[] = [];
    for (const [user, json] of Object.entries(all)) {
      const ban = parse(json);
      if (ban !== null && (ban.until === null || ban.until > now)) out.set(user, ban);
      else expired.push(user);
    }
    if (expired.length > 0)
      await this.h.call(() => this.h.client.hdel(this.h.key, ...expired)).catch(() => {});
    return out;
  }
}

function parse(json: string): Ban | null {
  try {
    const v = JSON.parse(json) as { reason?: unknown; until?: unknown };
    return {
      reason: typeof v.reason === "string" ? v.reason : null,
      until: typeof v.until === "number" ? v.until : null,
    };
  } catch {
    return null;
  }
}
