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

export interface Message {
  id: string;
  from: string;
  to: string;
  ts: number;
  kind: MessageKind;
  text: string | null;
  image: ImageRef | null;
  links: LinkRef[];
  clientMsgId: string | null;
  /** The contact details the screen found (SPEC 12, `flag` and `mask`); absent when none. */
  screened?: ContactKind[];
  /** True when the moderation hook rewrote the text; absent otherwise. */
  moderated?: true;
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

export type StoredEvent = MessageEvent | ReadEvent | PairEvent;
export type DuetEvent = StoredEvent | TypingEvent | ResetEvent | HelloEvent;

export interface ConversationSummary {
  peer: string;
  unread: number;
  lastMessage: Message | null;
  updatedAt: number;
}

export interface PresenceInfo {
  online: boolean;
  lastSeen?: number;
}
