import type { PresenceRegistry } from "./ports/presence.js";
import type { PresenceInfo } from "./types.js";

/** In-process presence, for the SQLite store (one process). */
export class LocalPresence implements PresenceRegistry {
  private readonly open = new Map<string, number>();
  private readonly lastSeen = new Map<string, number>();
  private readonly lastPolled = new Map<string, number>();
  private readonly pollWindowMs: number;
  private readonly maxRemembered: number;

  constructor(pollWindowMs = 60_000, maxRemembered = 100_000) {
    this.pollWindowMs = pollWindowMs;
    this.maxRemembered = maxRemembered;
  }

  /** Keeps the maps in least-recently-seen order and bounded: the oldest `lastSeen` is forgotten. */
  private remember(map: Map<string, number>, user: string, at: number): void {
    map.delete(user);
    map.set(user, at);
    if (map.size > this.maxRemembered) map.delete(map.keys().next().value as string);
  }

  connected(user: string): void {
    this.open.set(user, (this.open.get(user) ?? 0) + 1);
  }

  disconnected(user: string): void {
    const n = (this.open.get(user) ?? 1) - 1;
    if (n > 0) this.open.set(user, n);
    else this.open.delete(user);
    this.remember(this.lastSeen, user, Date.now());
  }

  polled(user: string): void {
    const now = Date.now();
    this.remember(this.lastPolled, user, now);
    this.remember(this.lastSeen, user, now);
  }

  async query(users: string[]): Promise<Record<string, PresenceInfo>> {
    const now = Date.now();
    const out: Record<string, PresenceInfo> = {};
    for (const user of users) {
      const seen = this.lastSeen.get(user);
      const polled = this.lastPolled.get(user);
      if (this.open.has(user)) out[user] = { online: true };
      else if (polled !== undefined && now - polled < this.pollWindowMs) out[user] = { online: true };
      else out[user] = seen === undefined ? { online: false } : { online: false, lastSeen: seen };
    }
    return out;
  }

  async close(): Promise<void> {}
}
