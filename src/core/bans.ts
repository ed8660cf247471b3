import { DuetError } from "./errors.js";
import type { Hub } from "./hub.js";

/** SPEC 12: a ban as the server API shows it. `until` in ms; null: until lifted. */
export interface Ban {
  reason: string | null;
  until: number | null;
}

/** The bans port (stores implement it; test/stores/bans-contract.ts holds them to it). */
export interface BanStore {
  ban(user: string, ban: Ban): Promise<void>;
  /** False when the user was not banned. */
  unban(user: string): Promise<boolean>;
  /** The user's ban, or null (none, or expired). */
  banOf(user: string, now?: number): Promise<Ban | null>;
  /** Every ban in force at `now`; expired ones may be forgotten on the way. */
  active(now?: number): Promise<Map<string, Ban>>;
}

export function inForce(ban: Ban | undefined | null, now = Date.now()): ban is Ban {
  return ban !== undefined && ban !== null && (ban.until === null || ban.until > now);
}

export interface BanServiceOptions {
  /** How often each process reads every ban in force from the store (ms). */
  refreshMs: number;
}

/**
 * Bans for the request path without a store round trip per request: each process keeps every
 * ban in force in memory, read from the store at start and every `refreshMs`. A ban made here
 * takes effect here at once, and closes the user's connections on every process at once (the
 * user's broker channel reaches exactly the processes holding one); a process that did not make
 * it admits new requests of that user for at most `refreshMs` more, and closes any connection it
 * let in meanwhile when its refresh sees the ban. The cost is one read of all bans in force per
 * process per interval, whatever the traffic.
 */
export class BanService {
  private cache = new Map<string, Ban>();
  private readonly store: BanStore;
  private readonly hub: Hub;
  private readonly timer: NodeJS.Timeout;
  /** Awaited after a ban: the user's pending notifications are dropped there. */
  onBan: (user: string) => Promise<void> = async () => {};

  constructor(store: BanStore, hub: Hub, options: BanServiceOptions) {
    this.store = store;
    this.hub = hub;
    this.timer = setInterval(() => void this.refresh().catch(() => {}), options.refreshMs);
    this.timer.unref();
  }

  /** Reads every ban in force; connections of users newly seen banned are closed here. */
  async refresh(): Promise<void> {
    const next = await this.store.active();
    for (const user of next.keys()) if (!this.cache.has(user)) this.hub.closeLocal(user, "user_banned");
    this.cache = next;
  }

  /** Throws user_banned for a user banned now. On every authenticated request: a map lookup. */
  check(user: string): string {
    const ban = this.cache.get(user);
    if (ban !== undefined && inForce(ban)) throw new DuetError("user_banned");
    return user;
  }

  async ban(user: string, ban: Ban): Promise<void> {
    await this.store.ban(user, ban);
    this.cache.set(user, ban);
    this.hub.publish(user, { kind: "disconnect", reason: "user_banned" });
    await this.onBan(user).catch(() => {});
  }

  async unban(user: string): Promise<boolean> {
    const was = await this.store.unban(user);
    this.cache.delete(user);
    return was;
  }

  banOf(user: string): Promise<Ban | null> {
    return this.store.banOf(user);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
