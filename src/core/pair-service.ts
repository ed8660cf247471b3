import { DuetError } from "./errors.js";
import {
  checkRelation,
  type Pair,
  type PairScreen,
  type PairStore,
  type PairsMode,
  type UnmatchResult,
} from "./pairs.js";
import type { UserEvent } from "./ports/store.js";

/**
 * SPEC section 11 for the chat: matching and unmatching (the store does the work, this publishes
 * both users' `pair` events to every connection on every process) and the check every user
 * action between two users goes through.
 */
export class PairService {
  readonly mode: PairsMode;
  private readonly store: PairStore;
  private readonly publish: (events: UserEvent[]) => void;
  /**
   * Awaited after an unmatch: pending notifications for the pair are dropped there, and the
   * `pair.unmatched` webhook is enqueued (before the caller is answered, so a 2xx implies it).
   */
  onUnmatch: (a: string, b: string, historyDeleted: boolean) => Promise<void> = async () => {};

  constructor(store: PairStore, mode: PairsMode, publish: (events: UserEvent[]) => void) {
    this.store = store;
    this.mode = mode;
    this.publish = publish;
  }

  /**
   * May `a` act towards `b` (type, read, react)? Throws blocked (a block either way) or
   * not_matched (as the mode says). One store read.
   */
  async check(a: string, b: string): Promise<void> {
    checkRelation(this.mode, await this.store.relation(a, b));
  }

  /**
   * For presence: throws not_matched as `check` does, and says whether `b` blocked `a` (then `b`
   * looks offline to `a`); a block by `a` hides nothing from `a`.
   */
  async blockedForPresence(a: string, b: string): Promise<boolean> {
    const r = await this.store.relation(a, b);
    if (r.pair === "unmatched" || (this.mode === "matched" && r.pair !== "matched"))
      throw new DuetError("not_matched");
    return r.bBlockedA;
  }

  async match(
    a: string,
    b: string,
    screen: PairScreen | null | undefined,
  ): Promise<{ pair: Pair; created: boolean }> {
    const result = await this.store.match(a, b, screen);
    this.publish(result.events);
    return { pair: result.pair, created: result.created };
  }

  /**
   * Ends the pair for both (404 when they are not matched); `erase` deletes the conversation;
   * `force` (the erase of a user) ends it whatever the pair's state (PairStore.unmatch).
   */
  async unmatch(a: string, b: string, erase: boolean, force = false): Promise<UnmatchResult> {
    const result = await this.store.unmatch(a, b, erase, force);
    this.publish(result.events);
    // Best effort: the pair is over whatever happens here, and a retry would only be a 404.
    await this.onUnmatch(a, b, erase).catch(() => {});
    return result;
  }

  pairsOf(user: string): Promise<Pair[]> {
    return this.store.pairsOf(user);
  }

  pair(a: string, b: string): Promise<Pair | null> {
    return this.store.pair(a, b);
  }

  /** The pair's own contact-info screen setting, or null (none set, or not a pair): the server's applies. */
  async screenFor(a: string, b: string): Promise<PairScreen | null> {
    return (await this.store.pair(a, b))?.screen ?? null;
  }
}
