import type {
  ConversationSummary,
  DeleteEvent,
  DeliveredEvent,
  DuetEvent,
  EditEvent,
  HelloEvent,
  ImageRef,
  LinkRef,
  Message,
  MessageEvent,
  PairEvent,
  PresenceInfo,
  ReactionEvent,
  ReadEvent,
  Report,
  ReportReason,
  Settings,
  TypingEvent,
} from "../core/types.js";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { Emitter } from "./emitter.js";
import { asClientError, DuetClientError } from "./errors.js";
import {
  endpoint,
  type FetchLike,
  HttpApi,
  NO_STORE,
  retryAfterMs as retryAfterMsOf,
  TokenSource,
} from "./http.js";
import {
  type Cursor,
  OPENERS,
  TRANSPORTS,
  type Transport,
  type TransportContext,
  type TransportEnd,
  type TransportName,
  type WebSocketConstructor,
} from "./transports.js";

/** What `report()` sends: whom, why, and optionally which messages and a note. */
export interface ReportRequest {
  user: string;
  reason: ReportReason;
  messageIds?: string[];
  note?: string;
}

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

/** A link that stayed up this long was healthy: the backoff starts over after it ends. */
const STABLE_MS = 2_000;

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
  typing: TypingEvent;
  reset: ResetEvent;
  status: Status;
}

export interface SendInput {
  to: string;
  text?: string;
  image?: ImageRef;
  links?: LinkRef[];
  /** Makes the send idempotent; the client generates one when absent. */
  clientMsgId?: string;
}

interface Pending {
  body: SendInput & { clientMsgId: string };
  resolve(message: Message): void;
  reject(error: DuetClientError): void;
}

const RANDOM_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A random id for `clientMsgId` (works in insecure browser contexts too). */
export function createClientMsgId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let id = "";
  for (const b of bytes) id += RANDOM_ALPHABET[b % 36];
  return id;
}

type Timer = ReturnType<typeof setTimeout>;
/** The transports to try, best first: never empty. */
type TransportList = [TransportName, ...TransportName[]];

function ignoreError(): void {}

/** A JWT's `sub` (read, not verified: only to know which messages are to this user). */
function subjectOf(token: string): string | null {
  try {
    const part = token.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === "string" ? sub : null;
  } catch {
    return null;
  }
}

/**
 * A connection to duet that always tries to be online. It opens the best transport that works,
 * falls back down the list when one is refused, reconnects with backoff and jitter, resumes from
 * its cursor so no event is lost, drops events it has already seen (by `seq`), and queues sends
 * while offline, retrying them with the same `clientMsgId` so none is stored twice.
 */
export class DuetClient {
  private readonly base: string;
  private readonly tokens: TokenSource;
  private readonly api: HttpApi;
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly fetch: FetchLike;
  private readonly WebSocket: WebSocketConstructor | undefined;
  private readonly backoff: Required<BackoffOptions>;
  private readonly o: {
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
  };
  private preferred: TransportList;
  private readonly refusedUntil = new Map<TransportName, number>();
  /** Transports that went online in this client, and those of them that failed once since. */
  private readonly workedOn = new Set<TransportName>();
  private readonly doubted = new Set<TransportName>();
  private transport: Transport | null = null;
  private opened = false;
  /** Bumped whenever the current transport is dropped, so its late callbacks are ignored. */
  private generation = 0;
  private attempt = 0;
  /** Attempts in a row that ran out of time (see connectTimeoutMs). */
  private timeouts = 0;
  private everOnline = false;
  private closed = false;
  private cursorValue: Cursor | null;
  /** The reset this client applied on its own, until the stream moves past it. */
  private resetAt: Cursor | null = null;
  private statusValue: Status = { state: "connecting", transport: null };
  private reconnectTimer: Timer | undefined;
  private connectTimer: Timer | undefined;
  private idleTimer: Timer | undefined;
  private flushTimer: Timer | undefined;
  private readonly outbox: Pending[] = [];
  private flushing = false;
  private sendAttempt = 0;
  private readonly lastTyping = new Map<string, number>();
  /** Who this client is, from the stream's hello (for delivery acknowledgements). */
  private userId: string | null = null;
  /** The browser said it has no network ("offline"): no attempts until it says "online". */
  private networkDown = false;
  private hiddenAt: number | null = null;
  private openedAt = 0;
  /** When recent connection attempts started, for maxAttemptsPerMinute. */
  private readonly attemptTimes: number[] = [];
  private readonly onBrowserOnline = () => {
    this.networkDown = false;
    this.reconnectSoon();
  };
  private readonly onBrowserOffline = () => this.networkLost();
  private readonly onVisibility = () => this.visibilityChanged();

  constructor(options: ConnectOptions) {
    if (typeof options.url !== "string" || !/^https?:\/\//.test(options.url)) {
      throw new DuetClientError("invalid_input", "connect() needs `url`: the duet server's http(s) address.");
    }
    this.base = options.url.replace(/\/+$/, "");
    this.tokens = new TokenSource(options.token, options.getToken);
    const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (fetchImpl === undefined) throw new DuetClientError("invalid_input", "No fetch implementation.");
    this.fetch = fetchImpl;
    this.WebSocket =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
    this.backoff = { initialMs: 500, maxMs: 15_000, ...options.backoff };
    this.o = {
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
    };
    this.preferred = this.checkTransports(options.transports ?? [...TRANSPORTS]);
    this.cursorValue = options.cursor ? { ...options.cursor } : null;
    this.api = new HttpApi(this.base, this.tokens, this.fetch, this.o.requestTimeoutMs);
    this.listenToBrowser(true);
    // Start on the next turn, once the caller has attached its listeners.
    this.reconnectTimer = setTimeout(() => void this.connectNow(), 0);
  }

  // ---- public API -------------------------------------------------------------------------

  on<K extends keyof ClientEvents>(type: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.emitter.on(type, listener);
  }

  off<K extends keyof ClientEvents>(type: K, listener: (value: ClientEvents[K]) => void): void {
    this.emitter.off(type, listener);
  }

  get status(): Status {
    return this.statusValue;
  }

  /** The position in the event log: save it to resume later with `connect({ cursor })`. */
  get cursor(): Cursor | null {
    return this.cursorValue === null ? null : { ...this.cursorValue };
  }

  /** The transports the client may use, best first. */
  get transports(): TransportName[] {
    return [...this.preferred];
  }

  /** Sends still waiting for the server (queued while offline, or being retried). */
  get pendingSends(): number {
    return this.outbox.length;
  }

  /** Resolves once the client is online (at once if it is). */
  online(): Promise<void> {
    if (this.statusValue.state === "online") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const off = this.on("status", (s) => {
        if (s.state === "online") {
          off();
          resolve();
        } else if (s.state === "offline") {
          off();
          reject(s.error ?? new DuetClientError("closed", "The client is offline."));
        }
      });
    });
  }

  /** Restricts (or widens) the transports and reconnects with the best of them now. */
  setTransports(transports: TransportName[]): void {
    this.preferred = this.checkTransports(transports);
    this.refusedUntil.clear();
    this.attempt = 0;
    this.reconnectNow();
  }

  /** Drops the current connection (if any) and connects again at once. */
  reconnectNow(): void {
    if (this.closed) return;
    this.dropTransport();
    void this.connectNow();
  }

  /**
   * Sends a message. While offline it waits in a queue; failed attempts are retried with the
   * same `clientMsgId`, so the server stores it once. Resolves with the stored message; rejects
   * only when the server refuses it for good (invalid, blocked...) or the client is closed.
   */
  send(input: SendInput): Promise<Message> {
    if (this.closed) return Promise.reject(new DuetClientError("closed", "The client is closed."));
    const body = { ...input, clientMsgId: input.clientMsgId ?? createClientMsgId() };
    return new Promise((resolve, reject) => {
      this.outbox.push({ body, resolve, reject });
      void this.flush();
    });
  }

  /** Marks every message from `peer` up to `upTo` read; `peer` gets a `read` event. */
  async markRead(peer: string, upTo: string): Promise<{ upTo: string | null }> {
    const ws = this.liveWebSocket();
    if (ws?.request) {
      try {
        const result = await ws.request({ op: "read", peer, upTo }, this.o.requestTimeoutMs);
        return { upTo: typeof result.upTo === "string" ? result.upTo : null };
      } catch (err) {
        const error = asClientError(err);
        if (!error.retryable) throw error;
        // the socket went away: try HTTP once
      }
    }
    return this.api.request("POST", `/v1/conversations/${encodeURIComponent(peer)}/read`, { body: { upTo } });
  }

  /** Tells `to` that the user is typing; throttled, best effort (errors are ignored). */
  async typing(to: string): Promise<void> {
    const now = Date.now();
    if (now - (this.lastTyping.get(to) ?? 0) < this.o.typingIntervalMs) return;
    this.lastTyping.set(to, now);
    if (this.liveWebSocket()?.notify?.({ op: "typing", to })) return;
    if (this.statusValue.state !== "online") return;
    await this.api.request("POST", "/v1/typing", { body: { to } }).catch(() => {});
  }

  conversations(options: { limit?: number; before?: number } = {}): Promise<ConversationSummary[]> {
    return this.api
      .request<{ conversations: ConversationSummary[] }>("GET", "/v1/conversations", { query: options })
      .then((r) => r.conversations);
  }

  /** A page of the conversation with `peer`, oldest first. */
  history(
    peer: string,
    options: { before?: string; after?: string; limit?: number } = {},
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    return this.api.request("GET", `/v1/conversations/${encodeURIComponent(peer)}/messages`, {
      query: options,
    });
  }

  /** The oldest unread messages from `peer`; with `markRead` (default true) they become read. */
  unread(peer: string, options: { limit?: number; markRead?: boolean } = {}): Promise<Message[]> {
    const query = {
      limit: options.limit,
      markRead: options.markRead === undefined ? undefined : String(options.markRead),
    };
    return this.api
      .request<{ messages: Message[] }>("GET", `/v1/conversations/${encodeURIComponent(peer)}/unread`, {
        query,
      })
      .then((r) => r.messages);
  }

  blocks(): Promise<string[]> {
    return this.api.request<{ blocks: string[] }>("GET", "/v1/blocks").then((r) => r.blocks);
  }

  block(user: string): Promise<string[]> {
    return this.api
      .request<{ blocks: string[] }>("PUT", `/v1/blocks/${encodeURIComponent(user)}`)
      .then((r) => r.blocks);
  }

  unblock(user: string): Promise<string[]> {
    return this.api
      .request<{ blocks: string[] }>("DELETE", `/v1/blocks/${encodeURIComponent(user)}`)
      .then((r) => r.blocks);
  }

  /**
   * Reports `input.user` (SPEC 12) with the messages named, or the last 20 of the conversation
   * when none are: the server keeps copies for the app's moderators. Answers the report filed.
   */
  report(input: ReportRequest): Promise<Report> {
    return this.api.request<{ report: Report }>("POST", "/v1/reports", { body: input }).then((r) => r.report);
  }

  // ---- SPEC 13: edit, unsend, reactions, settings, mute, delivery acknowledgements ---------
  // Each of these is idempotent on the server (the same edit, a repeated unsend or reaction,
  // the same settings change nothing twice), so the SDK retries them until they land: while
  // offline they wait for the connection, as sends do.

  /** Replaces the text of one of the user's messages (within the server's edit window). */
  edit(id: string, text: string): Promise<Message> {
    return this.retrying(() =>
      this.api
        .request<{ message: Message }>("PATCH", `/v1/messages/${encodeURIComponent(id)}`, { body: { text } })
        .then((r) => r.message),
    );
  }

  /** Unsends one of the user's messages for everyone; answers its tombstone. */
  unsend(id: string): Promise<Message> {
    return this.retrying(() =>
      this.api
        .request<{ message: Message }>("DELETE", `/v1/messages/${encodeURIComponent(id)}`)
        .then((r) => r.message),
    );
  }

  react(id: string, emoji: string): Promise<Message> {
    return this.reaction("PUT", id, emoji);
  }

  unreact(id: string, emoji: string): Promise<Message> {
    return this.reaction("DELETE", id, emoji);
  }

  private reaction(method: "PUT" | "DELETE", id: string, emoji: string): Promise<Message> {
    const path = `/v1/messages/${encodeURIComponent(id)}/reactions/${encodeURIComponent(emoji)}`;
    return this.retrying(() => this.api.request<{ message: Message }>(method, path).then((r) => r.message));
  }

  settings(): Promise<Settings> {
    return this.api.request<{ settings: Settings }>("GET", "/v1/settings").then((r) => r.settings);
  }

  updateSettings(patch: Partial<Settings>): Promise<Settings> {
    return this.retrying(() =>
      this.api
        .request<{ settings: Settings }>("PATCH", "/v1/settings", { body: patch })
        .then((r) => r.settings),
    );
  }

  /** Silences notifications from `peer`, until `until` (ms) or until unmuted. */
  mute(peer: string, until?: number): Promise<void> {
    const body = until === undefined ? {} : { until };
    return this.retrying(() =>
      this.api.request("PUT", `/v1/conversations/${encodeURIComponent(peer)}/mute`, { body }).then(() => {}),
    );
  }

  unmute(peer: string): Promise<void> {
    return this.retrying(() =>
      this.api.request("DELETE", `/v1/conversations/${encodeURIComponent(peer)}/mute`).then(() => {}),
    );
  }

  /** Acknowledges delivery of `peer`'s messages up to `upTo` (the SDK does it by itself). */
  async delivered(peer: string, upTo: string): Promise<{ upTo: string | null }> {
    const ws = this.liveWebSocket();
    if (ws?.request) {
      try {
        const result = await ws.request({ op: "delivered", peer, upTo }, this.o.requestTimeoutMs);
        return { upTo: typeof result.upTo === "string" ? result.upTo : null };
      } catch (err) {
        if (!asClientError(err).retryable) throw err;
      }
    }
    return this.api.request("POST", `/v1/conversations/${encodeURIComponent(peer)}/delivered`, {
      body: { upTo },
    });
  }

  /** Runs `call` until it succeeds or fails for good, waiting for the connection between tries. */
  private async retrying<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new DuetClientError("closed", "The client is closed.");
      try {
        return await call();
      } catch (err) {
        const error = asClientError(err);
        if (!error.retryable || this.closed) throw error;
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, this.backoff)));
        if (this.statusValue.state !== "online") await this.online().catch(() => {});
      }
    }
  }

  /** Per peer: the newest message id to acknowledge, and whether a send of it is scheduled. */
  private readonly acks = new Map<string, { upTo: string; timer: Timer | undefined; lastAt: number }>();

  /**
   * A message from a peer reached this device: acknowledged by itself, batched, at most once a
   * second per conversation (the newest id covers every earlier one).
   */
  private queueDeliveredAck(event: MessageEvent): void {
    const m = event.message;
    const me = this.userId;
    if (me === null) {
      // Polling transports have no hello: who this is comes from the token's `sub`.
      void this.tokens.get().then((token) => {
        const sub = subjectOf(token);
        if (sub === null || this.userId !== null) return;
        this.userId = sub;
        this.queueDeliveredAck(event);
      }, ignoreError);
      return;
    }
    if (m.to !== me || m.from === me || m.kind === "system") return;
    const peer = m.from;
    let ack = this.acks.get(peer);
    if (ack === undefined) {
      ack = { upTo: m.id, timer: undefined, lastAt: 0 };
      this.acks.set(peer, ack);
    } else if (m.id > ack.upTo) ack.upTo = m.id;
    if (ack.timer !== undefined) return;
    const entry = ack;
    const wait = Math.max(0, entry.lastAt + 1000 - Date.now());
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.lastAt = Date.now();
      if (this.closed) return;
      void this.delivered(peer, entry.upTo).catch(() => {});
    }, wait);
  }

  presence(users: string[]): Promise<Record<string, PresenceInfo>> {
    return this.api
      .request<{ presence: Record<string, PresenceInfo> }>("GET", "/v1/presence", {
        query: { users: users.join(",") },
      })
      .then((r) => r.presence);
  }

  /** Closes the connection for good; queued sends are rejected with `closed`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropTransport();
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.flushTimer);
    for (const ack of this.acks.values()) clearTimeout(ack.timer);
    this.listenToBrowser(false);
    for (const p of this.outbox.splice(0)) p.reject(new DuetClientError("closed", "The client was closed."));
    this.setStatus({ state: "offline", transport: null });
    this.emitter.clear();
  }

  // ---- connection life cycle ----------------------------------------------------------------

  private checkTransports(list: TransportName[]): TransportList {
    const known = list.filter((t) => (TRANSPORTS as readonly string[]).includes(t));
    const usable = known.filter((t) => t !== "ws" || this.WebSocket !== undefined);
    const [best, ...others] = new Set(usable);
    if (best === undefined) {
      throw new DuetClientError("invalid_input", `No usable transport in [${list.join(", ")}].`);
    }
    return [best, ...others];
  }

  private usableTransports(): TransportName[] {
    const now = Date.now();
    return this.preferred.filter((t) => (this.refusedUntil.get(t) ?? 0) <= now);
  }

  private pickTransport(): TransportName {
    const best = this.usableTransports()[0];
    if (best !== undefined) return best;
    // Everything was refused: forget it and start again from the best.
    this.refusedUntil.clear();
    return this.preferred[0];
  }

  private setStatus(status: Status): void {
    this.statusValue = status;
    this.emitter.emit("status", status);
  }

  private liveWebSocket(): Transport | null {
    return this.transport?.name === "ws" && this.opened ? this.transport : null;
  }

  private dropTransport(): void {
    this.generation++;
    clearTimeout(this.connectTimer);
    clearTimeout(this.idleTimer);
    const t = this.transport;
    this.transport = null;
    this.opened = false;
    t?.close();
  }

  // ---- the browser's hints: online/offline, page visibility ------------------------------

  private listenToBrowser(on: boolean): void {
    type Target = {
      addEventListener?: (type: string, listener: () => void) => void;
      removeEventListener?: (type: string, listener: () => void) => void;
    };
    const win = globalThis as Target;
    const doc = (globalThis as { document?: Target }).document;
    const method = on ? "addEventListener" : "removeEventListener";
    win[method]?.call(win, "online", this.onBrowserOnline);
    win[method]?.call(win, "offline", this.onBrowserOffline);
    doc?.[method]?.call(doc, "visibilitychange", this.onVisibility);
  }

  /** No network: drop the link (it cannot work) and make no attempt until "online". */
  private networkLost(): void {
    if (this.closed) return;
    this.networkDown = true;
    const transport = this.transport?.name ?? this.statusValue.transport;
    this.dropTransport();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.setStatus({
      state: this.everOnline ? "reconnecting" : "connecting",
      transport,
      error: new DuetClientError("offline", "The device is offline."),
    });
  }

  /** Back from the background: a link may have died unnoticed while timers were frozen. */
  private visibilityChanged(): void {
    const state = (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState;
    if (state === "hidden") {
      this.hiddenAt ??= Date.now();
      return;
    }
    if (state !== "visible" || this.hiddenAt === null) return;
    const hiddenFor = Date.now() - this.hiddenAt;
    this.hiddenAt = null;
    if (this.closed || this.networkDown || hiddenFor < this.o.resumeAfterHiddenMs) return;
    if (this.statusValue.state !== "online") {
      this.reconnectSoon();
      return;
    }
    const t = this.transport;
    if (t?.name === "ws" && t.notify?.({ op: "ping" })) {
      // A live socket answers its ping at once: give it a few seconds, not the whole idle timeout.
      this.armWatchdog(Math.min(this.o.idleTimeoutMs, 5_000));
      return;
    }
    this.reconnectNow(); // streams and polls cannot be asked: resume from the cursor, losslessly
  }

  private reconnectSoon(): void {
    if (this.closed || this.networkDown || this.statusValue.state === "online") return;
    if (this.reconnectTimer === undefined && this.transport !== null) return; // an attempt is under way
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.connectNow();
  }

  /** How long until another attempt fits under maxAttemptsPerMinute (0: now). */
  private capDelay(): number {
    const now = Date.now();
    let oldest = this.attemptTimes[0];
    while (oldest !== undefined && now - oldest >= 60_000) {
      this.attemptTimes.shift();
      oldest = this.attemptTimes[0];
    }
    if (oldest === undefined || this.attemptTimes.length < this.o.maxAttemptsPerMinute) return 0;
    return oldest + 60_000 - now;
  }

  private scheduleReconnect(wanted: number, transport: TransportName, error?: DuetClientError): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.networkDown) return; // "online" will bring it back
    const delay = Math.max(wanted, this.capDelay());
    const status: Status = {
      state: this.everOnline ? "reconnecting" : "connecting",
      transport,
      retryInMs: delay,
    };
    if (error !== undefined) status.error = error;
    this.setStatus(status);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connectNow();
    }, delay);
  }

  private nextDelay(): number {
    return backoffDelay(this.attempt++, this.backoff);
  }

  private async connectNow(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.dropTransport();
    if (this.networkDown) return;
    const wait = this.capDelay();
    if (wait > 0) {
      this.scheduleReconnect(wait, this.statusValue.transport ?? this.preferred[0]);
      return;
    }
    this.attemptTimes.push(Date.now());
    const generation = this.generation;
    const name = this.pickTransport();
    this.setStatus({
      state: this.everOnline ? "reconnecting" : "connecting",
      transport: name,
    });
    let token: string;
    try {
      token = await this.tokens.get();
    } catch (err) {
      if (generation === this.generation && !this.closed)
        this.scheduleReconnect(this.nextDelay(), name, asClientError(err));
      return;
    }
    if (generation !== this.generation || this.closed) return;

    const live = () => generation === this.generation && !this.closed;
    const ctx: TransportContext = {
      base: this.base,
      token,
      cursor: () => this.cursorValue,
      fetch: this.fetch,
      WebSocket: this.WebSocket,
      longPollSeconds: this.o.longPollSeconds,
      pollIntervalMs: this.o.pollIntervalMs,
      pingMs: this.o.pingMs,
      onOpen: (hello) => {
        if (live()) this.onOpen(name, hello);
      },
      onEvent: (event) => {
        if (live()) this.onEvent(event);
      },
      onPollCursor: (seq, epoch) => {
        if (live()) this.onHead(seq, epoch, true);
      },
      onActivity: () => {
        if (live()) this.touch();
      },
      onEnd: (end) => {
        if (live()) void this.onEnd(name, end);
      },
    };
    try {
      this.transport = OPENERS[name](ctx);
    } catch (err) {
      void this.onEnd(name, { kind: "protocol", error: asClientError(err) });
      return;
    }
    this.connectTimer = setTimeout(() => {
      if (live() && !this.opened) {
        this.timeouts++;
        void this.onEnd(name, {
          kind: "network",
          error: new DuetClientError("timeout", `${name}: no answer in time.`),
        });
      }
    }, this.connectTimeout());
  }

  private connectTimeout(): number {
    return this.o.connectTimeoutMs * 2 ** Math.min(this.timeouts, 3);
  }

  private onOpen(name: TransportName, hello: HelloEvent | null): void {
    clearTimeout(this.connectTimer);
    this.opened = true;
    this.timeouts = 0;
    this.openedAt = Date.now();
    this.everOnline = true;
    this.workedOn.add(name);
    this.doubted.delete(name);
    if (hello !== null) {
      this.userId = hello.user;
      this.onHead(hello.seq, hello.epoch);
    }
    this.touch();
    this.setStatus({ state: "online", transport: name });
    void this.flush();
  }

  /** Restarts the silence watchdog of stream transports. */
  private touch(): void {
    this.armWatchdog(this.o.idleTimeoutMs);
  }

  /** Ends the link unless something arrives within `ms`. */
  private armWatchdog(ms: number): void {
    if (!this.transport?.watchdog || !this.opened) return;
    clearTimeout(this.idleTimer);
    const generation = this.generation;
    const name = this.transport.name;
    this.idleTimer = setTimeout(() => {
      if (generation === this.generation) {
        void this.onEnd(name, {
          kind: "closed",
          error: new DuetClientError("timeout", "The connection went silent."),
        });
      }
    }, ms);
  }

  /**
   * A transport ended. If it had been online, reconnect (same transport) after a short jittered
   * delay. If it never got online, find out why: a server that cannot be reached, or is busy,
   * means wait and retry the same transport; a reachable server that refused this transport
   * (a proxy that blocks WebSocket upgrades, buffers streams, ...) means fall back to the next.
   */
  private async onEnd(name: TransportName, end: TransportEnd): Promise<void> {
    const wasOpen = this.opened;
    this.dropTransport();
    const generation = this.generation;
    const error = end.error;
    if (end.closeCode === 4009) {
      // "replaced": this user has too many connections; coming back would push out another.
      this.goOffline(error ?? new DuetClientError("replaced", "Closed: too many connections."));
      return;
    }
    if (wasOpen) {
      // A link that dies right after it opens (a flapping network, a proxy that cuts every
      // connection) keeps the backoff growing; one that was up a while starts it over.
      if (Date.now() - this.openedAt >= STABLE_MS) this.attempt = 0;
      if (error?.status === 401) await this.refreshOrStop(error);
      if (!this.closed && generation === this.generation)
        this.scheduleReconnect(this.nextDelay(), name, error);
      return;
    }
    let verdict: "wait" | "refused" | "token";
    let retryAfterMs = error?.retryAfterMs ?? 0;
    if (end.kind === "http" && error?.status !== undefined) {
      verdict = this.judgeStatus(error.status);
    } else if (end.kind === "closed" && end.closeCode !== undefined && end.closeCode !== 1006) {
      verdict = "wait"; // the server itself closed it (restarting, overloaded...)
    } else {
      const probed = await this.probe();
      verdict = probed.verdict;
      retryAfterMs = Math.max(retryAfterMs, probed.retryAfterMs);
      // A transport that worked here before gets a second chance: after a network outage the
      // probe can succeed although the attempt failed only because the network was still down.
      if (verdict === "refused" && this.workedOn.has(name) && !this.doubted.has(name)) {
        this.doubted.add(name);
        verdict = "wait";
      }
    }
    if (this.closed || generation !== this.generation) return;
    if (verdict === "token") {
      await this.refreshOrStop(error ?? new DuetClientError("unauthorized", "The token was refused.", 401));
      if (!this.closed && generation === this.generation)
        this.scheduleReconnect(this.nextDelay(), name, error);
      return;
    }
    if (verdict === "refused") {
      this.refusedUntil.set(name, Date.now() + this.o.fallbackMemoryMs);
      if (this.usableTransports().length > 0) {
        void this.connectNow();
        return;
      }
    }
    // A busy server's Retry-After is a floor, spread by up to half again so the clients it
    // turned away together do not all come back in the same instant.
    const delay = this.nextDelay();
    const floor = retryAfterMs > 0 ? retryAfterMs * (1 + Math.random() / 2) : 0;
    this.scheduleReconnect(Math.round(Math.max(delay, floor)), name, error);
  }

  private judgeStatus(status: number): "wait" | "refused" | "token" {
    if (status === 401) return "token";
    if (status === 408 || status === 429 || status >= 500) return "wait";
    return "refused";
  }

  /**
   * Is the server reachable, does it accept our token, and does it admit connections now? A short
   * poll says all three: it passes the same admission check as every transport, so a server
   * shedding load answers 503 with Retry-After (a browser cannot see that status on a refused
   * WebSocket upgrade, and without this would take it for a proxy that blocks WebSockets).
   */
  private async probe(): Promise<{ verdict: "wait" | "refused" | "token"; retryAfterMs: number }> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.connectTimeout());
    try {
      const token = await this.tokens.get();
      const res = await this.fetch(endpoint(this.base, "/v1/poll", { timeout: 0 }), {
        headers: { authorization: `Bearer ${token}` },
        signal: abort.signal,
        ...NO_STORE,
      });
      await res.body?.cancel().catch(() => {});
      if (res.ok) return { verdict: "refused", retryAfterMs: 0 };
      const verdict = this.judgeStatus(res.status) === "token" ? "token" : "wait";
      return { verdict, retryAfterMs: retryAfterMsOf(res) ?? 0 };
    } catch {
      return { verdict: "wait", retryAfterMs: 0 };
    } finally {
      clearTimeout(timer);
    }
  }

  private async refreshOrStop(error: DuetClientError): Promise<void> {
    if (!this.tokens.canRefresh) {
      this.goOffline(error);
      return;
    }
    await this.tokens.refresh().catch(() => {});
  }

  private goOffline(error: DuetClientError): void {
    this.dropTransport();
    clearTimeout(this.reconnectTimer);
    this.setStatus({ state: "offline", transport: null, error });
  }

  // ---- events and the cursor ---------------------------------------------------------------

  /**
   * Where the server's log stands: a stream's hello, or a poll answer's cursor (`poll`: the
   * answer's events, already applied, end at `seq`).
   */
  private onHead(seq: number, epoch: string, poll = false): void {
    const cursor = this.cursorValue;
    if (cursor === null) {
      this.cursorValue = { seq, epoch };
      this.emitter.emit("reset", { type: "reset", reason: "initial", seq, epoch });
    } else if (epoch === cursor.epoch && seq < cursor.seq) {
      // The server is behind our cursor (its log was rolled back): what it sends next would
      // look like duplicates. Start over from its head. (duet follows with a reset event of its
      // own; `resetAt` keeps the app from reloading twice.)
      this.cursorValue = { seq, epoch };
      this.resetAt = { seq, epoch };
      this.emitter.emit("reset", { type: "reset", reason: "reset", seq, epoch });
    } else if (poll && epoch === cursor.epoch) {
      cursor.seq = seq;
    }
  }

  private onEvent(event: DuetEvent): void {
    switch (event.type) {
      case "typing":
        this.emitter.emit("typing", event);
        return;
      case "reset":
        if (this.resetAt?.seq === event.seq && this.resetAt.epoch === event.epoch) {
          this.resetAt = null; // the same reset we already applied
          return;
        }
        this.resetAt = null;
        this.cursorValue = { seq: event.seq, epoch: event.epoch };
        this.emitter.emit("reset", { type: "reset", reason: "reset", seq: event.seq, epoch: event.epoch });
        return;
      case "message":
      case "read":
      case "pair":
      case "edit":
      case "delete":
      case "reaction":
      case "delivered": {
        const cursor = this.cursorValue;
        if (cursor === null || typeof event.seq !== "number") return;
        // Seen already: at-least-once becomes exactly-once. A gap in seqs is not a loss (an
        // unmatch erases its conversation's events from the log): no reload for it.
        if (event.seq <= cursor.seq) return;
        this.resetAt = null;
        cursor.seq = event.seq;
        if (event.type === "message") {
          this.emitter.emit("message", event);
          this.queueDeliveredAck(event);
        } else if (event.type === "read") this.emitter.emit("read", event);
        else if (event.type === "edit") this.emitter.emit("edit", event);
        else if (event.type === "delete") this.emitter.emit("delete", event);
        else if (event.type === "reaction") this.emitter.emit("reaction", event);
        else if (event.type === "delivered") this.emitter.emit("delivered", event);
        else this.emitter.emit("pair", event);
        return;
      }
      default:
        return; // hello repeats, pings, and types this SDK version does not know
    }
  }

  // ---- sending -----------------------------------------------------------------------------

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.closed && this.statusValue.state === "online") {
        const item = this.outbox[0];
        if (item === undefined) break;
        try {
          const message = await this.deliver(item.body);
          this.outbox.shift();
          this.sendAttempt = 0;
          item.resolve(message);
        } catch (err) {
          const error = asClientError(err);
          if (this.closed) return;
          if (!error.retryable) {
            this.outbox.shift();
            item.reject(error);
            continue;
          }
          clearTimeout(this.flushTimer);
          const delay = Math.max(error.retryAfterMs ?? 0, backoffDelay(this.sendAttempt++, this.backoff));
          this.flushTimer = setTimeout(() => void this.flush(), delay);
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** One attempt: the WebSocket's `send` op when it is live, else POST /v1/messages. */
  private async deliver(body: SendInput & { clientMsgId: string }): Promise<Message> {
    const ws = this.liveWebSocket();
    if (ws?.request) {
      const result = await ws.request({ op: "send", ...body }, this.o.requestTimeoutMs);
      const message = result.message as Message | undefined;
      if (typeof message?.id !== "string")
        throw new DuetClientError("bad_response", "No message in the answer.");
      return message;
    }
    const result = await this.api.request<{ message: Message }>("POST", "/v1/messages", { body });
    return result.message;
  }
}

/** Connects to duet. The client starts connecting at once; listen with `client.on(...)`. */
export function connect(options: ConnectOptions): DuetClient {
  return new DuetClient(options);
}
