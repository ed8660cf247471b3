/** The wire shapes of SPEC sections 3 and 5. The client SDK imports these as types only. */

export type MessageKind = "text" | "image" | "system";

export interface ImageRef {
  url: string;
  width?: number;
  height?: number;
}

export interface LinkRef {
  url: string;
  title?: string;
}

/**
 * A message. SPEC 13 adds fields that are present only once they apply (a plain message carries
 * none of them, so its stored size does not grow): `editedAt`, `reactions` (emoji -> users, only
 * when some), and the tombstone an unsent message becomes: `{id, from, to, ts, kind: "deleted",
 * deletedAt}` with no content fields at all (see Tombstone).
 */
export interface Message {
  id: string;
  from: string;
  to: string;
  ts: number;
  kind: MessageKind | "deleted";
  text: string | null;
  image: ImageRef | null;
  links: LinkRef[];
  clientMsgId: string | null;
  /** The contact details the screen found (SPEC 12, `flag` and `mask`); absent when none. */
  screened?: ContactKind[];
  /** True when the moderation hook rewrote the text; absent otherwise. */
  moderated?: true;
  editedAt?: number;
  reactions?: Record<string, string[]>;
  deletedAt?: number;
  /**
   * SPEC 15: when the message disappears (ms), present only on messages sent while their
   * conversation had a ttl (or the server default applied). After it the message is a tombstone.
   */
  expiresAt?: number;
}

/** What an unsent message leaves in history (and in its place in the event log). */
export interface Tombstone {
  id: string;
  from: string;
  to: string;
  ts: number;
  kind: "deleted";
  deletedAt: number;
}

/** What the contact-info screen finds (SPEC 12). */
export type ContactKind = "phone" | "email" | "handle";

/** A message as a sender submits it, after validation. */
export interface SendInput {
  from: string;
  to: string;
  kind: MessageKind;
  text: string | null;
  image: ImageRef | null;
  links: LinkRef[];
  clientMsgId: string | null;
  /** Set by the safety checks (never by a client): stored on the message as is. */
  screened?: ContactKind[];
  moderated?: true;
}

export interface MessageEvent {
  type: "message";
  seq: number;
  message: Message;
}

export interface ReadEvent {
  type: "read";
  seq: number;
  /** The other side of the conversation, from the receiving user's point of view. */
  peer: string;
  /** Who read. */
  reader: string;
  upTo: string;
}

export interface TypingEvent {
  type: "typing";
  from: string;
}

/**
 * A position in one user's event log (SPEC 5): the last seq seen, in the store's epoch. Hello and
 * reset events carry one; the SDK keeps one (`client.cursor`) to resume from; on the wire it is
 * `?since=<seq>&epoch=<epoch>` (or an SSE `Last-Event-ID`).
 */
export interface Cursor {
  seq: number;
  epoch: string;
}

export interface ResetEvent {
  type: "reset";
  seq: number;
  epoch: string;
}

export interface HelloEvent {
  type: "hello";
  user: string;
  epoch: string;
  seq: number;
}

/** SPEC section 11: the app backend matched or unmatched the user with `peer`. */
export interface PairEvent {
  type: "pair";
  seq: number;
  peer: string;
  state: "matched" | "unmatched";
  /** On an unmatch: true when the conversation was erased, false when it was kept (`?history=keep`). */
  historyDeleted?: boolean;
}

/** SPEC 13: a message was edited (or its caption); `message` is its whole current state. */
export interface EditEvent {
  type: "edit";
  seq: number;
  message: Message;
}

/** SPEC 13: a message was unsent; its content is gone from the store. */
export interface DeleteEvent {
  type: "delete";
  seq: number;
  id: string;
  peer: string;
}

/** SPEC 13: `user` put (`on`) or took back a reaction on message `id`. */
export interface ReactionEvent {
  type: "reaction";
  seq: number;
  id: string;
  peer: string;
  user: string;
  emoji: string;
  on: boolean;
}

/** SPEC 13: `peer`'s device acknowledged the user's messages up to `upTo`. */
export interface DeliveredEvent {
  type: "delivered";
  seq: number;
  peer: string;
  upTo: string;
}

/** SPEC 15: the conversation with `peer` got a disappearing-messages ttl (0: none of its own). */
export interface TtlEvent {
  type: "ttl";
  seq: number;
  peer: string;
  seconds: number;
}

export type LifecycleEvent = EditEvent | DeleteEvent | ReactionEvent | DeliveredEvent;

export type StoredEvent = MessageEvent | ReadEvent | PairEvent | LifecycleEvent | TtlEvent;
export type DuetEvent = StoredEvent | TypingEvent | ResetEvent | HelloEvent;

export interface ConversationSummary {
  peer: string;
  unread: number;
  lastMessage: Message | null;
  updatedAt: number;
  /** SPEC 13, filled in by the lifecycle service: the last of my messages the peer read (or null). */
  peerReadUpTo?: string | null;
  /** The last of my messages the peer's device acknowledged (or null). */
  peerDeliveredUpTo?: string | null;
  /** Whether I muted the conversation's notifications. */
  muted?: boolean;
  /** SPEC 15: the conversation's own message ttl in seconds; 0: none (the server default is not shown). */
  ttl: number;
}

/** SPEC 13: what a user lets peers learn, and whether they get notifications. */
export interface Settings {
  readReceipts: boolean;
  deliveryReceipts: boolean;
  typing: boolean;
  presence: boolean;
  notifications: boolean;
}

export interface PresenceInfo {
  online: boolean;
  lastSeen?: number;
}

/** SPEC 12: why a user reports another. */
export type ReportReason = "spam" | "harassment" | "scam" | "inappropriate" | "underage" | "other";
export type ReportStatus = "open" | "resolved";

/** A report as the server API lists it. */
export interface Report {
  /** A ULID: reports sort by id in the order they were filed. */
  id: string;
  reporter: string;
  /** Who is reported. */
  user: string;
  reason: ReportReason;
  note: string | null;
  /** The messages the reporter named (empty: none named, and `messages` holds the last 20). */
  messageIds: string[];
  /**
   * Copies of the evidence, taken when the report was filed: they outlive unsend, unmatch and
   * expiry of the originals. Dropped when the report is resolved (kept only as long as needed).
   */
  messages: Message[];
  status: ReportStatus;
  createdAt: number;
  resolvedAt: number | null;
  /** What the app did, as given to resolve (free text), or null. */
  action: string | null;
}
