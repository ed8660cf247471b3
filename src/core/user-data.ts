import type { Chat } from "./chat.js";
import type { ErasureService } from "./erasures.js";
import { scrubOutbox } from "./outbox/erase-scrub.js";
import { DEFAULT_SETTINGS, type LifecycleStore } from "./ports/lifecycle.js";
import type { Outbox } from "./ports/outbox.js";
import type { PushSubscriptions } from "./ports/push-subscriptions.js";
import type { Store } from "./ports/store.js";
import type { UserDataStore } from "./ports/user-data.js";

/** Messages (and reports) read per store call while exporting: one page in memory at a time. */
export const EXPORT_PAGE = 1000;

/** Before the first message id: ids are ULIDs (Crockford base 32), all greater than "0". */
const BEFORE_FIRST_ID = "0";

/** Conversations ended at once while erasing: each is a few store steps; more would crowd sends. */
const ERASE_PARALLEL = 4;

export interface UserDataDeps {
  chat: Chat;
  erasures: ErasureService;
  store: Store;
  lifecycle: LifecycleStore;
  data: UserDataStore;
  /** Null when the store keeps no Web Push subscriptions. */
  push: PushSubscriptions | null;
  /** Null when the store has no outbox: webhooks and pushes waiting there are scrubbed by the erase. */
  outbox: Outbox | null;
  /** duet's version, for the export's first line. */
  version: string;
}

/**
 * SPEC 15: everything duet holds about one user, for a data-access request (export) and for
 * erasure. The export is a pull: each chunk is read from the store when the previous one has
 * been written, so memory holds one page whatever the user's number of messages.
 */
export class UserData {
  private readonly d: UserDataDeps;

  constructor(deps: UserDataDeps) {
    this.d = deps;
  }

  /**
   * The export as NDJSON chunks (each one or more whole lines): the `export` line first, then
   * `settings`, `pair`, `block`, `push_subscription`, `report` (filed by the user) and `message`
   * records (every conversation, oldest message first, in their current state: edited, unsent
   * as a tombstone, with reactions). A user duet knows nothing of gets the first line only.
   */
  async *exportChunks(user: string, now = Date.now()): AsyncGenerator<string> {
    const line = (record: object) => `${JSON.stringify(record)}\n`;
    const { store, lifecycle, data, push } = this.d;
    const [peers, pairs, blocks, settings, mutes, subscriptions] = await Promise.all([
      data.peers(user),
      store.pairs.pairsOf(user),
      store.blocks(user),
      lifecycle.settings([user]),
      lifecycle.mutes(user),
      push === null ? [] : push.pushSubscriptions(user),
    ]);
    // The store is read before the first line, so a store that cannot be read fails the request
    // before anything is written (the route answers 503, not a 200 cut short).
    let head = line({
      type: "export",
      user,
      generatedAt: new Date(now).toISOString(),
      version: this.d.version,
    });
    // Every user id has the default settings: written for a user duet holds something about.
    const own = settings[0] ?? DEFAULT_SETTINGS;
    const changed = (Object.keys(DEFAULT_SETTINGS) as (keyof typeof DEFAULT_SETTINGS)[]).some(
      (name) => own[name] !== DEFAULT_SETTINGS[name],
    );
    if (changed || peers.length + pairs.length + blocks.length + subscriptions.length + mutes.size > 0) {
      const muted = [...mutes].map(([peer, until]) => ({ peer, until }));
      head += line({ type: "settings", settings: own, mutes: muted });
    }
    for (const pair of pairs) head += line({ type: "pair", pair });
    for (const blocked of blocks) head += line({ type: "block", blocked });
    // The endpoint only: the keys are the browser's secrets, of no use to the user.
    for (const sub of subscriptions) head += line({ type: "push_subscription", endpoint: sub.endpoint });
    yield head;
    for await (const reports of data.reportsFiledBy(user, EXPORT_PAGE)) {
      yield reports.map((report) => line({ type: "report", report })).join("");
    }
    for (const peer of peers) {
      let after = BEFORE_FIRST_ID;
      for (;;) {
        const page = await store.history(user, peer, { after, limit: EXPORT_PAGE });
        const last = page.messages.at(-1);
        if (last === undefined) break;
        let chunk = "";
        for (const message of page.messages)
          chunk += `{"type":"message","message":${JSON.stringify(message)}}\n`;
        yield chunk;
        if (!page.hasMore) break;
        after = last.id;
      }
    }
  }

  /**
   * Erases `user` (SPEC 15) and answers what this call erased. In this order, each step
   * idempotent, so a repeat after a crash anywhere finishes the job:
   * 1. the erase mark (tokens issued before it are refused from here on) and the close of the
   *    user's connections on every process (4003);
   * 2. the work list: every peer with a conversation or a pair, recorded before any is touched;
   * 3. each conversation ended as an unmatch with history deleted (peers get the `pair` event,
   *    the `pair.unmatched` webhook goes, pending notifications both ways are dropped), then the
   *    pair's record forgotten and the peer crossed off the list;
   * 4. the user's blocks, push subscriptions, settings, mutes, event log and pending
   *    notifications; 5. the outbox's webhooks and pushes (pending or failed) that carry their
   *    conversations' texts or previews (scrubOutbox); 6. the `user.erased` webhook.
   * Reports filed by or about the user stay (their evidence until resolved): see docs/PRIVACY.md.
   */
  async erase(user: string): Promise<{ messages: number; pairs: number }> {
    const { chat, erasures, data, store, push } = this.d;
    await erasures.mark(user);
    const peers = [...new Set([...(await data.peers(user)), ...(await data.erasing(user))])].sort();
    await data.noteErasing(user, peers);
    let messages = 0;
    let next = 0;
    const worker = async () => {
      while (next < peers.length) {
        const peer = peers[next++] as string;
        // Not `messages += await …`: that reads `messages` before the wait, losing the other
        // workers' counts.
        const erased = await this.endConversation(user, peer);
        messages += erased;
        await data.forgetPair(user, peer);
        await data.erasingDone(user, peer);
      }
    };
    await Promise.all(Array.from({ length: Math.min(ERASE_PARALLEL, peers.length) }, worker));
    for (const blocked of await store.blocks(user)) await store.unblock(user, blocked);
    if (push !== null)
      for (const sub of await push.pushSubscriptions(user))
        await push.removePushSubscription(user, sub.endpoint);
    await data.eraseRest(user);
    await chat.dropPendingNotifications(user);
    // After the drop marks and the conversations' end: no new entry of theirs comes after it.
    if (this.d.outbox !== null) await scrubOutbox(this.d.outbox, user);
    // Again at the end: a connection another process let in before its marks refreshed.
    erasures.disconnect(user);
    const erased = { messages, pairs: peers.length };
    await chat.outboxEvents.emit("user.erased", { user, ...erased });
    return erased;
  }

  /**
   * Ends the conversation of `user` and `peer` as an unmatch with history deleted, whatever the
   * pair's state: a conversation with no current pair (open mode, or unmatched with its history
   * kept, or left half-erased by a crash) is ended directly (a forced unmatch), never matched
   * first, so no peer's log gains a `matched` event. Answers the messages erased.
   */
  private async endConversation(user: string, peer: string): Promise<number> {
    return (await this.d.chat.pairs.unmatch(user, peer, true, true)).erased;
  }
}
