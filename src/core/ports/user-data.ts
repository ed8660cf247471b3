import type { Report } from "../safety/reports.js";

/**
 * What SPEC 15's export and erase need of a store beyond the other ports (messages come through
 * Store.history, pairs through PairStore, settings through LifecycleStore, push subscriptions
 * through PushSubscriptions). Every store implements it (src/stores/user-data.ts picks one).
 */
export interface UserDataStore {
  /**
   * Every peer `user` has a conversation with (listed, whatever the pair's state) or a current
   * pair with, sorted, no repeats: the conversations an export walks and an erase ends. Its size
   * is the user's number of conversations (never their messages).
   */
  peers(user: string): Promise<string[]>;
  /**
   * The reports `user` filed, a batch at a time (each at most `batch` reports; the store reads
   * its reports in bounded steps), in no particular order.
   */
  reportsFiledBy(user: string, batch: number): AsyncIterable<Report[]>;

  // ---- erase (SPEC 15); each write is idempotent, so a repeated erase finishes a crashed one ----

  /** Records that `user` was erased at `at` (ms); a later mark replaces an earlier one. */
  markErased(user: string, at: number): Promise<void>;
  /** Erase marks made at or after `since` (ms): user -> time. */
  erasedSince(since: number): Promise<Map<string, number>>;
  /**
   * The erase's work list: `noteErasing` records the peers whose conversations it will end (before
   * it starts on them), `erasingDone` crosses one off, `erasing` reads what is left. An erase that
   * a crash interrupted is finished by the next one from here, even for a conversation whose
   * pair and list entries were already gone when the crash came.
   */
  noteErasing(user: string, peers: readonly string[]): Promise<void>;
  erasing(user: string): Promise<string[]>;
  erasingDone(user: string, peer: string): Promise<void>;
  /**
   * Forgets an unmatched pair's record (not a matched one): after an erase nothing keeps the two
   * ids apart, so an app that reuses the id starts clean.
   */
  forgetPair(a: string, b: string): Promise<void>;
  /**
   * The rest of the user's own records once their conversations are gone: settings, mutes, the
   * whole event log (its head is kept, so seqs never repeat), conversation list, delivery and
   * presence records, the work list. Blocks and push subscriptions go through their own ports.
   */
  eraseRest(user: string): Promise<void>;
}
