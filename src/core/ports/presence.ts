import type { PresenceInfo } from "../types.js";

/**
 * Who is online. A user is online while it has an open stream or WebSocket on any process, or
 * was answered a poll within `pollWindowMs`; otherwise `lastSeen` is when that last stopped.
 */
export interface PresenceRegistry {
  /** A streaming connection (WebSocket, SSE, NDJSON) of `user` opened on this process. */
  connected(user: string): void;
  /** One of them closed. */
  disconnected(user: string): void;
  /** A poll or long-poll of `user` was answered. */
  polled(user: string): void;
  query(users: string[]): Promise<Record<string, PresenceInfo>>;
  close(): Promise<void>;
}
