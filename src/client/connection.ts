import type { Cursor, HelloEvent, MessageEvent } from "../core/types.js";
import { AttemptCap, backoffDelay } from "./backoff.js";
import type { Emitter } from "./emitter.js";
import { asClientError, DuetClientError } from "./errors.js";
import { EventCursor } from "./event-cursor.js";
import type { ClientEvents, ConnectionState, Status } from "./events.js";
import type { FetchLike, TokenSource } from "./http.js";
import type { Timings } from "./options.js";
import { TransportChoice } from "./transport-choice.js";
import {
  OPENERS,
  type Transport,
  type TransportContext,
  type TransportEnd,
  type TransportName,
  type WebSocketConstructor,
} from "./transports.js";
import { adviceOfEnd, probe, tokenRefused, type Verdict, verdictOf } from "./verdict.js";

/** A link that stayed up this long was healthy: the backoff starts over after it ends. */
const STABLE_MS = 2_000;

type Timer = ReturnType<typeof setTimeout>;

export interface ConnectionSetup {
  base: string;
  tokens: TokenSource;
  fetch: FetchLike;
  WebSocket: WebSocketConstructor | undefined;
  timings: Timings;
  transports: TransportName[];
  cursor: Cursor | undefined;
  emitter: Emitter<ClientEvents>;
  /** The link is online (after the status was emitted): the outbox may flush. */
  onOnline(): void;
  /** A new message arrived (after it was emitted): it may be acknowledged. */
  onMessage(event: MessageEvent): void;
}

/**
 * The connection state machine: it opens the best transport that works, falls back down the list
 * when one is refused, reconnects with backoff and jitter (and a cap on attempts per minute),
 * resumes from its cursor so no event is lost, watches for silence, and listens to the browser's
 * online/offline and visibility hints.
 */
export class Connection {
  private readonly base: string;
  private readonly tokens: TokenSource;
  private readonly fetch: FetchLike;
  private readonly WebSocket: WebSocketConstructor | undefined;
  private readonly timings: Timings;
  private readonly emitter: Emitter<ClientEvents>;
  private readonly onOnline: () => void;
  private readonly choice: TransportChoice;
  private readonly attempts: AttemptCap;
  readonly cursor: EventCursor;
  private transport: Transport | null = null;
  private opened = false;
  /** Bumped whenever the current transport is dropped, so its late callbacks are ignored. */
  private generation = 0;
  /** Attempts since the last stable link, for the backoff. */
  private attempt = 0;
  /** Attempts in a row that ran out of time (see connectTimeoutMs). */
  private timeouts = 0;
  private everOnline = false;
  private stopped = false;
  private statusValue: Status = { state: "connecting", transport: null };
  private reconnectTimer: Timer | undefined;
  private connectTimer: Timer | undefined;
  private idleTimer: Timer | undefined;
  /** Who this client is, from the stream's hello (for delivery acknowledgements). */
  private helloUser: string | null = null;
  /** The browser said it has no network ("offline"): no attempts until it says "online". */
  private networkDown = false;
  private hiddenAt: number | null = null;
  private openedAt = 0;
  private readonly onBrowserOnline = () => {
    this.networkDown = false;
    this.reconnectSoon();
  };
  private readonly onBrowserOffline = () => this.networkLost();
  private readonly onVisibility = () => this.visibilityChanged();

  constructor(setup: ConnectionSetup) {
    this.base = setup.base;
    this.tokens = setup.tokens;
    this.fetch = setup.fetch;
    this.WebSocket = setup.WebSocket;
    this.timings = setup.timings;
    this.emitter = setup.emitter;
    this.onOnline = setup.onOnline;
    this.choice = new TransportChoice(setup.transports, setup.WebSocket !== undefined);
    this.attempts = new AttemptCap(setup.timings.maxAttemptsPerMinute);
    this.cursor = new EventCursor(setup.cursor, setup.emitter, setup.onMessage);
    this.listenToBrowser(true);
    // Start on the next turn, once the caller has attached its listeners.
    this.reconnectTimer = setTimeout(() => void this.connectNow(), 0);
  }

  get status(): Status {
    return this.statusValue;
  }

  get state(): ConnectionState {
    return this.statusValue.state;
  }

  get closed(): boolean {
    return this.stopped;
  }

  get transports(): TransportName[] {
    return this.choice.list;
  }

  /** The user the stream's hello named (null before one, and on polling transports). */
  get user(): string | null {
    return this.helloUser;
  }

  /** Resolves once online (at once if it is); rejects when the client goes offline. */
  whenOnline(): Promise<void> {
    if (this.statusValue.state === "online") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const off = this.emitter.on("status", (s) => {
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

  /** The WebSocket, when it is the transport and it is open (for request ops). */
  liveWebSocket(): Transport | null {
    return this.transport?.name === "ws" && this.opened ? this.transport : null;
  }

  setTransports(transports: TransportName[]): void {
    this.choice.set(transports);
    this.attempt = 0;
    this.reconnectNow();
  }

  reconnectNow(): void {
    if (this.stopped) return;
    this.dropTransport();
    void this.connectNow();
  }

  /** Stops for good. `beforeOffline` runs before the last status (the outbox rejects its sends). */
  close(beforeOffline: () => void): void {
    if (this.stopped) return;
    this.stopped = true;
    this.dropTransport();
    clearTimeout(this.reconnectTimer);
    beforeOffline();
    this.listenToBrowser(false);
    this.setStatus({ state: "offline", transport: null });
  }

  // ---- attempts ------------------------------------------------------------------------------

  private reconnectSoon(): void {
    if (this.stopped || this.networkDown || this.statusValue.state === "online") return;
    if (this.reconnectTimer === undefined && this.transport !== null) return; // an attempt is under way
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.connectNow();
  }

  private scheduleReconnect(wanted: number, transport: TransportName, error?: DuetClientError): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.networkDown) return; // "online" will bring it back
    const delay = Math.max(wanted, this.attempts.delay());
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
    return backoffDelay(this.attempt++, this.timings.backoff);
  }

  private async connectNow(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.dropTransport();
    if (this.networkDown) return;
    const wait = this.attempts.delay();
    if (wait > 0) {
      this.scheduleReconnect(wait, this.statusValue.transport ?? this.choice.best);
      return;
    }
    this.attempts.record();
    const generation = this.generation;
    const name = this.choice.pick();
    this.setStatus({
      state: this.everOnline ? "reconnecting" : "connecting",
      transport: name,
    });
    let token: string;
    try {
      token = await this.tokens.get();
    } catch (err) {
      if (generation === this.generation && !this.stopped)
        this.scheduleReconnect(this.nextDelay(), name, asClientError(err));
      return;
    }
    if (generation !== this.generation || this.stopped) return;

    const live = () => generation === this.generation && !this.stopped;
    const ctx: TransportContext = {
      base: this.base,
      token,
      cursor: () => this.cursor.current,
      fetch: this.fetch,
      WebSocket: this.WebSocket,
      longPollSeconds: this.timings.longPollSeconds,
      pollIntervalMs: this.timings.pollIntervalMs,
      pingMs: this.timings.pingMs,
      onOpen: (hello) => {
        if (live()) this.onOpen(name, hello);
      },
      onEvent: (event) => {
        if (live()) this.cursor.accept(event);
      },
      onPollCursor: (seq, epoch) => {
        if (live()) this.cursor.head(seq, epoch, true);
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
    return this.timings.connectTimeoutMs * 2 ** Math.min(this.timeouts, 3);
  }

  private onOpen(name: TransportName, hello: HelloEvent | null): void {
    clearTimeout(this.connectTimer);
    this.opened = true;
    this.timeouts = 0;
    this.openedAt = Date.now();
    this.everOnline = true;
    this.choice.worked(name);
    if (hello !== null) {
      this.helloUser = hello.user;
      this.cursor.head(hello.seq, hello.epoch);
    }
    this.touch();
    this.setStatus({ state: "online", transport: name });
    this.onOnline();
  }

  /** Restarts the silence watchdog of stream transports. */
  private touch(): void {
    this.armWatchdog(this.timings.idleTimeoutMs);
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
   * A transport ended. The server's word (the error table's advice on its error or close code)
   * comes first: an error that says not to come back stops the client; one that asks for a new
   * token gets one. Otherwise, if it had been online, reconnect (same transport) after a short
   * jittered delay. If it never got online, find out why: a server that cannot be reached, or is
   * busy, means wait and retry the same transport; a reachable server that refused this
   * transport (a proxy that blocks WebSocket upgrades, buffers streams, ...) means fall back.
   */
  private async onEnd(name: TransportName, end: TransportEnd): Promise<void> {
    const wasOpen = this.opened;
    this.dropTransport();
    const generation = this.generation;
    let error = end.error;
    const advice = adviceOfEnd(end);
    if (advice?.reconnect === false) {
      this.goOffline(error ?? new DuetClientError("closed", "The server closed the connection."));
      return;
    }
    if (wasOpen) {
      // A link that dies right after it opens (a flapping network, a proxy that cuts every
      // connection) keeps the backoff growing; one that was up a while starts it over.
      if (Date.now() - this.openedAt >= STABLE_MS) this.attempt = 0;
      if (advice?.reconnect === "new_token") await this.refreshOrStop(error ?? tokenRefused());
      if (!this.stopped && generation === this.generation)
        this.scheduleReconnect(this.nextDelay(), name, error);
      return;
    }
    let verdict: Verdict;
    let retryAfterMs = error?.retryAfterMs ?? 0;
    if (advice !== null) {
      verdict = verdictOf(advice, end);
    } else {
      const probed = await probe(this.base, this.tokens, this.fetch, this.connectTimeout());
      verdict = probed.verdict;
      retryAfterMs = Math.max(retryAfterMs, probed.retryAfterMs);
      if (verdict === "stop" || verdict === "token") error = probed.error ?? error;
      if (verdict === "refused" && this.choice.secondChance(name)) verdict = "wait";
    }
    if (this.stopped || generation !== this.generation) return;
    if (verdict === "stop") {
      this.goOffline(error ?? new DuetClientError("closed", "The server refused the connection."));
      return;
    }
    if (verdict === "token") {
      await this.refreshOrStop(error ?? tokenRefused());
      if (!this.stopped && generation === this.generation)
        this.scheduleReconnect(this.nextDelay(), name, error);
      return;
    }
    if (verdict === "refused") {
      this.choice.refuse(name, this.timings.fallbackMemoryMs);
      if (this.choice.usable().length > 0) {
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

  private setStatus(status: Status): void {
    this.statusValue = status;
    this.emitter.emit("status", status);
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
    if (this.stopped) return;
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
    if (this.stopped || this.networkDown || hiddenFor < this.timings.resumeAfterHiddenMs) return;
    if (this.statusValue.state !== "online") {
      this.reconnectSoon();
      return;
    }
    const t = this.transport;
    if (t?.name === "ws" && t.notify?.({ op: "ping" })) {
      // A live socket answers its ping at once: give it a few seconds, not the whole idle timeout.
      this.armWatchdog(Math.min(this.timings.idleTimeoutMs, 5_000));
      return;
    }
    this.reconnectNow(); // streams and polls cannot be asked: resume from the cursor, losslessly
  }
}
