import type { TokenClaims } from "./auth.js";
import { DuetError } from "./errors.js";
import type { Hub } from "./hub.js";

/** The erase marks as the request path needs them (UserDataStore implements it). */
export interface ErasureMarks {
  markErased(user: string, at: number): Promise<void>;
  erasedSince(since: number): Promise<Map<string, number>>;
}

/** Marks are re-read from this far before the newest one seen: processes' clocks differ a little. */
const CLOCK_SLACK_MS = 5 * 60_000;

/**
 * SPEC 15: a token issued before its user's erase is refused (401 user_erased), one issued after
 * is accepted (the app may give the id to someone new). Checked on every authenticated request
 * and connection from memory, as bans are (BanService): each process reads the marks at start
 * and then every `refreshMs` (only those newer than it has, so the read stays small however many
 * users were ever erased). The erase itself closes the user's connections on every process at
 * once (the user's broker channel); a process that has not refreshed yet admits an old token for
 * at most `refreshMs`, and closes such connections when its refresh sees the mark.
 */
export class ErasureService {
  private readonly marks = new Map<string, number>();
  private newest = 0;
  private readonly store: ErasureMarks;
  private readonly hub: Hub;
  private readonly timer: NodeJS.Timeout;

  constructor(store: ErasureMarks, hub: Hub, options: { refreshMs: number }) {
    this.store = store;
    this.hub = hub;
    this.timer = setInterval(() => void this.refresh().catch(() => {}), options.refreshMs);
    this.timer.unref();
  }

  async refresh(): Promise<void> {
    const since = this.newest === 0 ? 0 : this.newest - CLOCK_SLACK_MS;
    for (const [user, at] of await this.store.erasedSince(since)) this.learn(user, at, true);
  }

  private learn(user: string, at: number, close: boolean): void {
    const known = this.marks.get(user);
    if (known !== undefined && known >= at) return;
    this.marks.set(user, at);
    this.newest = Math.max(this.newest, at);
    if (close) this.hub.closeLocal(user, "user_erased");
  }

  /**
   * Throws user_erased for a token issued before (or in the same second as) its user's erase, or
   * with no `iat` at all for an erased user. A map lookup.
   */
  check(claims: TokenClaims): string {
    const at = this.marks.get(claims.user);
    if (at !== undefined && (claims.iat === null || claims.iat * 1000 <= at))
      throw new DuetError("user_erased");
    return claims.user;
  }

  /** Records the erase (durably, first) and closes the user's connections everywhere. */
  async mark(user: string, at = Date.now()): Promise<void> {
    await this.store.markErased(user, at);
    this.learn(user, at, false);
    this.disconnect(user);
  }

  /** Closes `user`'s connections on every process with 4003. */
  disconnect(user: string): void {
    this.hub.publish(user, { kind: "disconnect", reason: "user_erased" });
  }

  close(): void {
    clearInterval(this.timer);
  }
}
