import type { Cursor } from "../core/types.js";
import type { BackoffOptions } from "./backoff.js";
import type { FetchLike } from "./http.js";
import type { TransportName, WebSocketConstructor } from "./transports.js";

export interface ConnectOptions {
  /** The duet server, e.g. `https://chat.example.com` (a path prefix is kept). */
  url: string;
  /** A user token (JWT) minted by your backend. Give this or `getToken`. */
  token?: string;
  /** Called for a token at start and again whenever the server refuses the current one. */
  getToken?: () => string | Promise<string>;
  /** Transports to use, best first (default: all, in the order ws, sse, stream, longpoll, poll). */
  transports?: TransportName[];
  /** Resume from a cursor saved earlier (`client.cursor`), instead of starting from now. */
  cursor?: Cursor;
  /** A WebSocket constructor, for Node 20 (`import WebSocket from "ws"`); default: the global one. */
  WebSocket?: WebSocketConstructor;
  /** A fetch implementation; default: the global one. */
  fetch?: FetchLike;
  backoff?: BackoffOptions;
  /**
   * How long a transport may take to deliver its hello before it counts as failed (10 s). Doubled
   * after each attempt that ran out of time, up to 8 times this, until one gets through: on a link
   * (or a server in a reconnect storm) slower than this, giving up and starting over would never
   * succeed, and each abandoned attempt is work done again.
   */
  connectTimeoutMs?: number;
  /** Silence after which a stream or WebSocket counts as dead (45 s; the server pings every 15-25 s). */
  idleTimeoutMs?: number;
  /** WebSocket application-level ping interval (20 s). */
  pingMs?: number;
  /** Long-poll hold time asked of the server (25 s). */
  longPollSeconds?: number;
  /** Short-polling interval (2 s). */
  pollIntervalMs?: number;
  /** A transport refused while the server is reachable is skipped for this long (5 min). */
  fallbackMemoryMs?: number;
  /** HTTP requests and WebSocket requests time out after this long (15 s). */
  requestTimeoutMs?: number;
  /** Minimum interval between two typing notifications to the same peer (2.5 s). */
  typingIntervalMs?: number;
  /**
   * After the page was hidden at least this long (a phone app in the background, a laptop lid),
   * becoming visible again checks the link at once instead of waiting for the silence watchdog,
   * whose timers may not have run while the device slept (10 s).
   */
  resumeAfterHiddenMs?: number;
  /** At most this many connection attempts per rolling minute, however they end (30). */
  maxAttemptsPerMinute?: number;
}

/** The timing options with their defaults filled in. */
export interface Timings {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  pingMs: number;
  longPollSeconds: number;
  pollIntervalMs: number;
  fallbackMemoryMs: number;
  requestTimeoutMs: number;
  typingIntervalMs: number;
  resumeAfterHiddenMs: number;
  maxAttemptsPerMinute: number;
  backoff: Required<BackoffOptions>;
}

export function timingsOf(options: ConnectOptions): Timings {
  return {
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 45_000,
    pingMs: options.pingMs ?? 20_000,
    longPollSeconds: options.longPollSeconds ?? 25,
    pollIntervalMs: options.pollIntervalMs ?? 2_000,
    fallbackMemoryMs: options.fallbackMemoryMs ?? 300_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
    typingIntervalMs: options.typingIntervalMs ?? 2_500,
    resumeAfterHiddenMs: options.resumeAfterHiddenMs ?? 10_000,
    maxAttemptsPerMinute: Math.max(1, options.maxAttemptsPerMinute ?? 30),
    backoff: { initialMs: 500, maxMs: 15_000, ...options.backoff },
  };
}
