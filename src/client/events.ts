import type {
  DeleteEvent,
  DeliveredEvent,
  EditEvent,
  MessageEvent,
  PairEvent,
  ReactionEvent,
  ReadEvent,
  TtlEvent,
  TypingEvent,
} from "../core/types.js";
import type { DuetClientError } from "./errors.js";
import type { ViewChange } from "./message-view.js";
import type { TransportName } from "./transports.js";

/**
 * `connecting`: not online yet since connect(); `online`: events flow; `reconnecting`: was online,
 * lost it, trying again (sends are queued meanwhile); `offline`: stopped (closed, or the token
 * was refused and there is no getToken to ask for another).
 */
export type ConnectionState = "connecting" | "online" | "reconnecting" | "offline";

export interface Status {
  state: ConnectionState;
  /** The transport in use or being tried. */
  transport: TransportName | null;
  /** When reconnecting: the delay before the next attempt. */
  retryInMs?: number;
  /** Why the last connection or attempt ended, or why the client is offline. */
  error?: DuetClientError;
}

/**
 * Reload state with the HTTP API: the event stream does not cover what came before `seq`.
 * `initial`: the first connection without a saved cursor; `reset`: the server could not resume
 * the cursor (too old, or the store was wiped and has a new epoch).
 */
export interface ResetEvent {
  type: "reset";
  reason: "initial" | "reset";
  seq: number;
  epoch: string;
}

/** What `client.on(type, listener)` delivers, by type. */
export interface ClientEvents {
  message: MessageEvent;
  read: ReadEvent;
  /**
   * The app matched or unmatched the user with `peer` (SPEC 11). On an unmatch with
   * `historyDeleted`, the conversation is gone from the server: drop it from the screen.
   */
  pair: PairEvent;
  /** SPEC 13: a message was edited; `message` is its whole new state. */
  edit: EditEvent;
  /** A message was unsent: show its tombstone. */
  delete: DeleteEvent;
  reaction: ReactionEvent;
  /** The peer's device acknowledged my messages up to `upTo`. */
  delivered: DeliveredEvent;
  /**
   * SPEC 15: either side set the conversation's disappearing-messages ttl (`seconds`, 0: off).
   * Messages sent after it carry `expiresAt`; hide each at that time (the server erases it).
   */
  ttl: TtlEvent;
  typing: TypingEvent;
  /** A conversation view (`client.view(peer)`) changed: re-render `ids` (or the whole view). */
  change: ViewChange;
  reset: ResetEvent;
  status: Status;
}
