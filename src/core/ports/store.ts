import type { BanStore } from "../bans.js";
import type { PairStore, PairsMode } from "../pairs.js";
import type { ReportStore } from "../safety/reports.js";
import type { ConversationSummary, Message, SendInput, StoredEvent } from "../types.js";
import type { UserEvent } from "./user-event.js";

// Its own file, so the ports that use it (pairs.ts) and this one do not import each other.
export type { UserEvent };

export interface SendResult {
  message: Message;
  /** True when `clientMsgId` matched an earlier message of the same sender: nothing was stored. */
  duplicate: boolean;
  /**
   * The events appended (sender's and recipient's `message` events); empty on a duplicate, unless
   * the repeat completed a send that was interrupted between its steps (Redis Cluster).
   */
  events: UserEvent[];
  /** The message as JSON (what \`JSON.stringify(message)\` gives), when the store has it at hand. */
  json?: string;
}

export interface ReadResult {
  /** The read marker after the call (null when nothing from the peer was ever read). */
  upTo: string | null;
  /** `read` events appended to both sides' logs; empty when the marker did not move. */
  events: UserEvent[];
}

export interface EventPage {
  events: StoredEvent[];
  /** The newest seq in the user's log (0 when empty). */
  head: number;
  /**
   * True when `since` cannot be served without a gap: it is older than the retained window or
   * newer than `head` (a log that went back, which only a wiped store does). The caller sends `reset`.
   */
  reset: boolean;
}

export interface HistoryQuery {
  before?: string;
  after?: string;
  limit: number;
}

export interface RetentionPolicy {
  /** Keep at most this many events per user. */
  maxEvents: number;
  /** Drop events older than this. */
  maxAgeMs: number;
}

export interface StoreOptions {
  retention: RetentionPolicy;
  /** Who may message whom (SPEC 11; default open): `send` refuses with not_matched accordingly. */
  pairs?: PairsMode;
  /**
   * SPEC 15: the server-wide message ttl (s) for conversations with none of their own; 0 or
   * absent: messages there never expire. A send stamps `expiresAt` from it (or the conversation's).
   */
  messageTtlS?: number;
}

/**
 * The storage contract of duet. Every implementation passes test/stores/contract.ts unchanged.
 *
 * - Message ids are assigned by the store, are unique, and sort (as strings) in the order the
 *   store committed the messages of a conversation: both participants see one total order.
 * - Each user has one event log. `seq` is per user, starts at 1 and increases by exactly 1 per
 *   appended event, so a reader that sees seq N+2 after N knows it missed one.
 * - `send` is atomic: the message, both `message` events, the conversation summaries and the
 *   `clientMsgId` record are all stored, or none is. A resolved promise means durably stored.
 * - Nothing unread is ever deleted. Retention trims event logs only (messages stay for history).
 * - `epoch` identifies the logs: it changes only when the store is wiped.
 * - Failures to reach the store reject with DuetError("store_unavailable"), never hang forever.
 */
export interface Store {
  readonly name: string;
  /** Identifies the event logs; stable across restarts of the same data. */
  readonly epoch: string;
  /** Pairs (SPEC 11), kept with the messages so a send and an unmatch are ordered. */
  readonly pairs: PairStore;
  /** Bans (SPEC 12). */
  readonly bans: BanStore;
  /** SPEC 12's reports, kept apart from messages (see ReportStore). */
  readonly reports: ReportStore;

  /**
   * Stores a message; throws DuetError("blocked") if the recipient blocked the sender, and
   * DuetError("not_matched") when the pairs mode refuses the two (neither for system messages).
   */
  send(input: SendInput): Promise<SendResult>;

  /** Moves `reader`'s read marker for messages from `peer` up to `upTo` (never backwards). */
  markRead(reader: string, peer: string, upTo: string): Promise<ReadResult>;

  /** The oldest `limit` unread messages from `peer`; with `markRead`, exactly those become read. */
  readUnread(
    reader: string,
    peer: string,
    limit: number,
    markRead: boolean,
  ): Promise<{ messages: Message[]; events: UserEvent[] }>;

  /** A page of the conversation, oldest first. `before`/`after` are exclusive message ids. */
  history(
    user: string,
    peer: string,
    query: HistoryQuery,
  ): Promise<{ messages: Message[]; hasMore: boolean }>;

  /** The user's conversations, latest activity first, with `updatedAt` < `before` when given. */
  conversations(user: string, limit: number, before?: number): Promise<ConversationSummary[]>;

  /** Stored events with seq > `since`, oldest first, at most `limit`. */
  eventsSince(user: string, since: number, limit: number): Promise<EventPage>;

  /** The newest seq of the user's log. */
  head(user: string): Promise<number>;

  block(blocker: string, blocked: string): Promise<void>;
  unblock(blocker: string, blocked: string): Promise<void>;
  blocks(blocker: string): Promise<string[]>;
  isBlocked(blocker: string, blocked: string): Promise<boolean>;

  /** Messages stored in all. */
  countMessages(): Promise<number>;

  /** Resolves when the store answers; rejects with store_unavailable otherwise. */
  ping(): Promise<void>;

  /** Waits for pending writes and releases resources. */
  close(): Promise<void>;

  /**
   * Optional (stores whose writes can outlive their caller's deadline, e.g. Redis: a command
   * already written cannot be withdrawn). `handler` gets the events of a write that committed
   * after its caller was answered store_unavailable, so they still reach open connections, and
   * the users whose logs may hold events nobody published (the outcome of such a write is
   * unknown: their connections should read the store).
   */
  onLateWrite?(handler: (events: UserEvent[], unsure: string[]) => void): void;
}
