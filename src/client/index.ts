/**
 * duet's client SDK, for browsers and Node 20+: the package duet-chat-client, whose entry point
 * is `connect`.
 * It imports nothing from the server but types.
 */

export type {
  ConversationSummary,
  Cursor,
  DeleteEvent,
  DeliveredEvent,
  EditEvent,
  ImageRef,
  LinkRef,
  Message,
  MessageEvent,
  MessageKind,
  PairEvent,
  PresenceInfo,
  ReactionEvent,
  ReadEvent,
  Report,
  ReportReason,
  Settings,
  TtlEvent,
  TypingEvent,
} from "../core/types.js";
export type { BackoffOptions } from "./backoff.js";
export {
  type ClientEvents,
  type ConnectionState,
  type ConnectOptions,
  connect,
  createClientMsgId,
  DuetClient,
  type ReportRequest,
  type ResetEvent,
  type SendInput,
  type Status,
} from "./client.js";
export {
  DuetClientError,
  isMessageRejected,
  isNotMatched,
  type MessageRejectedError,
  type NotMatchedError,
} from "./errors.js";
export {
  ConversationView,
  type ConversationViewEvents,
  type Tick,
  type ViewChange,
  type ViewMessage,
} from "./message-view.js";
export type { PushErrorCode, PushOptions, PushState } from "./push.js";
export { TRANSPORTS, type TransportName, type WebSocketConstructor } from "./transports.js";
