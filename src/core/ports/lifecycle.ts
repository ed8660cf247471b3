/**
 * The store ports of SPEC 13 (message lifecycle, receipts, settings, mute). Each store implements
 * them beside its Store (stores/sqlite/lifecycle.ts, stores/redis/lifecycle.ts) and passes the
 * lifecycle part of test/stores/contract.ts.
 */

import type { MessageChange } from "../lifecycle-rules.js";
import type { Message, Settings } from "../types.js";
import type { ReadResult, UserEvent } from "./store.js";

export interface UpdatedMessage {
  /** The message after the call (unchanged when the rule returned null). */
  message: Message;
  /** The other side of the conversation, from the caller's point of view. */
  peer: string;
  /** The events appended (one per side), empty when nothing changed. */
  events: UserEvent[];
}

/** A user's receipt markers on the messages they sent to one peer. */
export interface PeerReceipts {
  /** The last of my messages the peer read (their read marker), or null. */
  readUpTo: string | null;
  /** The last of my messages the peer's device acknowledged, or null. */
  deliveredUpTo: string | null;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  readReceipts: true,
  deliveryReceipts: true,
  typing: true,
  presence: true,
  notifications: true,
});

/**
 * The contract:
 * - `updateMessage` finds message `id` among `user`'s conversations (null when there is none:
 *   another conversation's message is as unknown as a missing one), runs `rule` on its current
 *   state and, atomically with that state (a transaction, or a compare-and-set retried on a
 *   conflict), stores the result and appends the change's event to both sides' logs. Concurrent
 *   calls on one message are serialised: each rule sees the state the previous one left, so the
 *   events' order is the order of the states. A `delete` erases the content everywhere the store
 *   holds it: the message, the conversation summaries, and the events that carried it (replayed
 *   afterwards as the tombstone); an unsent message no longer counts as unread.
 * - `delivered` moves `user`'s delivery marker for messages from `peer` up to the last one at or
 *   before `upTo`, never back; when it moved and `notify`, `peer` gets a `delivered` event.
 * - `markReadQuietly` is Store.markRead without the peer's `read` event (read receipts off): the
 *   reader's own devices still get theirs.
 * - Settings are booleans defaulting to DEFAULT_SETTINGS; mutes hold an end time (ms) or null
 *   for "until unmuted".
 */
export interface LifecycleStore {
  updateMessage(
    user: string,
    id: string,
    rule: (current: Message) => MessageChange | null,
  ): Promise<UpdatedMessage | null>;
  delivered(
    user: string,
    peer: string,
    upTo: string,
    notify: boolean,
  ): Promise<{ upTo: string | null; events: UserEvent[] }>;
  markReadQuietly(reader: string, peer: string, upTo: string): Promise<ReadResult>;
  /** For each peer: the peer's markers on `user`'s messages. */
  receipts(user: string, peers: readonly string[]): Promise<PeerReceipts[]>;
  /** Each user's settings, defaults filled in. */
  settings(users: readonly string[]): Promise<Settings[]>;
  updateSettings(user: string, patch: Partial<Settings>): Promise<Settings>;
  mute(user: string, peer: string, until: number | null): Promise<void>;
  unmute(user: string, peer: string): Promise<void>;
  /** `user`'s mutes: peer -> end (ms) or null; expired ones may still be listed. */
  mutes(user: string): Promise<Map<string, number | null>>;
}

/**
 * What other parts read of a user's choices (notifications, presence, typing, read receipts):
 * the one place they are decided. Implemented by Lifecycle (core/lifecycle.ts).
 */
export interface PrivacyPort {
  settings(user: string): Promise<Settings>;
  /** Whether `user` muted notifications from `peer` at `now`. */
  isMuted(user: string, peer: string, now?: number): Promise<boolean>;
  /** Whether `user` should get a notification for a message from `peer`: notifications on, not muted. */
  wantsNotification(user: string, peer: string, now?: number): Promise<boolean>;
}
