import type {
  ConversationSummary,
  Cursor,
  Message,
  PresenceInfo,
  Report,
  ReportReason,
  Settings,
} from "../core/types.js";
import { Connection } from "./connection.js";
import { DeliveryAcks } from "./delivery-acks.js";
import { Emitter } from "./emitter.js";
import { asClientError, DuetClientError } from "./errors.js";
import type { ClientEvents, Status } from "./events.js";
import { HttpApi, TokenSource } from "./http.js";
import { type ConversationView, MessageViews } from "./message-view.js";
import { type ConnectOptions, type Timings, timingsOf } from "./options.js";
import { Outbox, type SendInput } from "./outbox.js";
import { type PushOptions, type PushState, WebPush } from "./push.js";
import { TRANSPORTS, type TransportName, type WebSocketConstructor } from "./transports.js";

export type { ClientEvents, ConnectionState, ResetEvent, Status } from "./events.js";
export type { ConnectOptions } from "./options.js";
export { createClientMsgId, type SendInput } from "./outbox.js";

/** What `report()` sends: whom, why, and optionally which messages and a note. */
export interface ReportRequest {
  user: string;
  reason: ReportReason;
  messageIds?: string[];
  note?: string;
}

/**
 * A connection to duet that always tries to be online. It opens the best transport that works,
 * falls back down the list when one is refused, reconnects with backoff and jitter, resumes from
 * its cursor so no event is lost, drops events it has already seen (by `seq`), and queues sends
 * while offline, retrying them with the same `clientMsgId` so none is stored twice.
 *
 * This class is the API apps call; the work is done by the connection state machine
 * (connection.ts), the outbox (outbox.ts) and the delivery acknowledgements (delivery-acks.ts).
 */
export class DuetClient {
  private readonly emitter = new Emitter<ClientEvents>();
  private readonly timings: Timings;
  private readonly tokens: TokenSource;
  private readonly api: HttpApi;
  private readonly connection: Connection;
  private readonly outbox: Outbox;
  private readonly acks: DeliveryAcks;
  private readonly views: MessageViews;
  /** When a typing notification last went to each peer. */
  private readonly lastTyping = new Map<string, number>();

  constructor(options: ConnectOptions) {
    if (typeof options.url !== "string" || !/^https?:\/\//.test(options.url)) {
      throw new DuetClientError("invalid_input", "connect() needs `url`: the duet server's http(s) address.");
    }
    const base = options.url.replace(/\/+$/, "");
    this.tokens = new TokenSource(options.token, options.getToken);
    const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (fetchImpl === undefined) throw new DuetClientError("invalid_input", "No fetch implementation.");
    this.timings = timingsOf(options);
    this.api = new HttpApi(base, this.tokens, fetchImpl, this.timings.requestTimeoutMs);
    this.connection = new Connection({
      base,
      tokens: this.tokens,
      fetch: fetchImpl,
      WebSocket:
        options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined,
      timings: this.timings,
      transports: options.transports ?? [...TRANSPORTS],
      cursor: options.cursor,
      emitter: this.emitter,
      onOnline: () => void this.outbox.flush(),
      onMessage: (event) => this.acks.queue(event),
    });
    this.outbox = new Outbox(this.connection, this.api, this.timings.backoff, this.timings.requestTimeoutMs);
    this.acks = new DeliveryAcks(
      this.tokens,
      () => this.connection.user,
      (peer, upTo) => this.delivered(peer, upTo),
    );
    // Registered before the app's listeners: a view is up to date when the app hears the event.
    this.views = new MessageViews(
      this,
      () => this.connection.user,
      (c) => this.emitter.emit("change", c),
    );
    this.views.listen((type, listener) => this.emitter.on(type, listener));
  }

  /**
   * The local view of the conversation with `peer`: its messages in their current state and the
   * ticks of the user's own, kept up to date from the event stream. Call `load()` on it once.
   */
  view(peer: string): ConversationView {
    return this.views.get(peer);
  }

  on<K extends keyof ClientEvents>(type: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.emitter.on(type, listener);
  }

  off<K extends keyof ClientEvents>(type: K, listener: (value: ClientEvents[K]) => void): void {
    this.emitter.off(type, listener);
  }

  get status(): Status {
    return this.connection.status;
  }

  /** The position in the event log: save it to resume later with `connect({ cursor })`. */
  get cursor(): Cursor | null {
    return this.connection.cursor.snapshot();
  }

  /** The transports the client may use, best first. */
  get transports(): TransportName[] {
    return this.connection.transports;
  }

  /** Sends still waiting for the server (queued while offline, or being retried). */
  get pendingSends(): number {
    return this.outbox.size;
  }

  /** Resolves once the client is online (at once if it is). */
  online(): Promise<void> {
    return this.connection.whenOnline();
  }

  /** Restricts (or widens) the transports and reconnects with the best of them now. */
  setTransports(transports: TransportName[]): void {
    this.connection.setTransports(transports);
  }

  /** Drops the current connection (if any) and connects again at once. */
  reconnectNow(): void {
    this.connection.reconnectNow();
  }

  /**
   * Sends a message. While offline it waits in a queue; failed attempts are retried with the
   * same `clientMsgId`, so the server stores it once. Resolves with the stored message; rejects
   * only when the server refuses it for good (invalid, blocked...) or the client is closed.
   */
  send(input: SendInput): Promise<Message> {
    return this.outbox.send(input).then((message) => {
      this.views.seedMessage(message);
      return message;
    });
  }

  /** Marks every message from `peer` up to `upTo` read; `peer` gets a `read` event. */
  markRead(peer: string, upTo: string): Promise<{ upTo: string | null }> {
    return this.markerOp("read", peer, upTo);
  }

  /** Tells `to` that the user is typing; throttled, best effort (errors are ignored). */
  async typing(to: string): Promise<void> {
    const now = Date.now();
    if (now - (this.lastTyping.get(to) ?? 0) < this.timings.typingIntervalMs) return;
    this.lastTyping.set(to, now);
    if (this.connection.liveWebSocket()?.notify?.({ op: "typing", to })) return;
    if (this.connection.state !== "online") return;
    await this.api.request("POST", "/v1/typing", { body: { to } }).catch(() => {});
  }

  conversations(options: { limit?: number; before?: number } = {}): Promise<ConversationSummary[]> {
    return this.api
      .request<{ conversations: ConversationSummary[] }>("GET", "/v1/conversations", { query: options })
      .then((r) => {
        this.views.seedSummaries(r.conversations);
        return r.conversations;
      });
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
  // the same settings change nothing twice), so the outbox retries them until they land: while
  // offline they wait for the connection, as sends do.

  /** Replaces the text of one of the user's messages (within the server's edit window). */
  edit(id: string, text: string): Promise<Message> {
    return this.outbox.retrying(() =>
      this.api
        .request<{ message: Message }>("PATCH", `/v1/messages/${encodeURIComponent(id)}`, { body: { text } })
        .then((r) => r.message),
    );
  }

  /** Unsends one of the user's messages for everyone; answers its tombstone. */
  unsend(id: string): Promise<Message> {
    return this.outbox.retrying(() =>
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

  settings(): Promise<Settings> {
    return this.api.request<{ settings: Settings }>("GET", "/v1/settings").then((r) => r.settings);
  }

  updateSettings(patch: Partial<Settings>): Promise<Settings> {
    return this.outbox.retrying(() =>
      this.api
        .request<{ settings: Settings }>("PATCH", "/v1/settings", { body: patch })
        .then((r) => r.settings),
    );
  }

  /** Silences notifications from `peer`, until `until` (ms) or until unmuted. */
  mute(peer: string, until?: number): Promise<void> {
    const body = until === undefined ? {} : { until };
    return this.outbox.retrying(() =>
      this.api.request("PUT", `/v1/conversations/${encodeURIComponent(peer)}/mute`, { body }).then(() => {}),
    );
  }

  unmute(peer: string): Promise<void> {
    return this.outbox.retrying(() =>
      this.api.request("DELETE", `/v1/conversations/${encodeURIComponent(peer)}/mute`).then(() => {}),
    );
  }

  /**
   * SPEC 15: disappearing messages in the conversation with `peer` (either side may set it):
   * messages sent after it expire `seconds` after they are sent (60 s to 90 days; 0 turns it off,
   * and the server's default, if any, applies). Both sides get a `ttl` event. Queued and retried
   * like the other writes (setting the same value twice changes nothing).
   */
  setTtl(peer: string, seconds: number): Promise<{ peer: string; seconds: number }> {
    return this.outbox.retrying(() =>
      this.api.request<{ peer: string; seconds: number }>(
        "PUT",
        `/v1/conversations/${encodeURIComponent(peer)}/ttl`,
        { body: { seconds } },
      ),
    );
  }

  /** Acknowledges delivery of `peer`'s messages up to `upTo` (the SDK does it by itself). */
  delivered(peer: string, upTo: string): Promise<{ upTo: string | null }> {
    return this.markerOp("delivered", peer, upTo);
  }

  /**
   * SPEC 14, in a browser: registers the service worker `options.serviceWorker`, asks for
   * permission, subscribes with the server's VAPID key and stores the subscription on the
   * server, which then sends notifications as Web Push while the user is offline. Rejects with
   * `push_unsupported` or `push_denied` (DuetClientError codes) when it cannot.
   */
  enablePush(options: PushOptions): Promise<PushState> {
    return new WebPush(this.api).enable(options);
  }

  /** Unsubscribes this browser from Web Push and removes the subscription from the server. */
  disablePush(options: { scope?: string } = {}): Promise<boolean> {
    return new WebPush(this.api).disable(options);
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
    if (this.connection.closed) return;
    this.connection.close(() => {
      this.acks.close();
      this.outbox.close();
    });
    this.views.close();
    this.emitter.clear();
  }

  private reaction(method: "PUT" | "DELETE", id: string, emoji: string): Promise<Message> {
    const path = `/v1/messages/${encodeURIComponent(id)}/reactions/${encodeURIComponent(emoji)}`;
    return this.outbox.retrying(() =>
      this.api.request<{ message: Message }>(method, path).then((r) => r.message),
    );
  }

  /**
   * Moves the read or delivery marker: over the WebSocket when it is live, else (or when the
   * socket went away meanwhile) over HTTP once.
   */
  private async markerOp(
    op: "read" | "delivered",
    peer: string,
    upTo: string,
  ): Promise<{ upTo: string | null }> {
    const ws = this.connection.liveWebSocket();
    if (ws?.request) {
      try {
        const result = await ws.request({ op, peer, upTo }, this.timings.requestTimeoutMs);
        return { upTo: typeof result.upTo === "string" ? result.upTo : null };
      } catch (err) {
        const error = asClientError(err);
        if (!error.retryable) throw error;
      }
    }
    return this.api.request("POST", `/v1/conversations/${encodeURIComponent(peer)}/${op}`, {
      body: { upTo },
    });
  }
}

/** Connects to duet. The client starts connecting at once; listen with `client.on(...)`. */
export function connect(options: ConnectOptions): DuetClient {
  return new DuetClient(options);
}
