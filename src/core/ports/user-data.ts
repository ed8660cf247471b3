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
}
