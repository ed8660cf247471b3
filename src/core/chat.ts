import { DuetError } from "./errors.js";
import type { Hub } from "./hub.js";
import { OutboxEvents } from "./outbox/events.js";
import { PairService } from "./pair-service.js";
import type { PairsMode } from "./pairs.js";
import type { PresenceRegistry } from "./ports/presence.js";
import type { Sink, TransportKind } from "./ports/sink.js";
import type { ReadResult, SendResult, Store, UserEvent } from "./ports/store.js";
import { RateLimiter } from "./rate-limit.js";
import { ReportService } from "./safety/reports.js";
import type { FlagReason, SafetyGate } from "./safety/send-gate.js";
import { EventStream, type ResumeFrom } from "./stream.js";
import type { ConversationSummary, Message, PresenceInfo, SendInput } from "./types.js";

export interface ChatOptions {
  sendRate: number;
  sendBurst: number;
  /** SPEC 11 (default open); the store's send applies the same mode. */
  pairs?: PairsMode;
  /** SPEC 12's checks on user sends (screen, moderation hook, image hosts); absent: none configured. */
  safety?: SafetyGate;
  /**
   * Told of every stored message the checks flagged (`flag` screen, a moderation hook that failed
   * open), besides the `message.flagged` webhook the chat enqueues (the server logs it).
   */
  onFlagged?: (message: Message, reasons: FlagReason[]) => void;
}

/** What the chat service reports; the server wires it to Prometheus. */
export interface ChatObserver {
  messageStored(kind: string): void;
  storeLatency(op: string, seconds: number): void;
}

/** A stored message, as a send answers it. */
export interface Sent {
  message: Message;
  duplicate: boolean;
  /** The message as JSON, when the store had it at hand. */
  json?: string;
}

/** What each user lets peers learn (SPEC 13), set by the lifecycle service (core/lifecycle.ts). */
export interface ChatPrivacy {
  readReceiptsOff(reader: string): Promise<boolean>;
  /** Store.markRead without the peer's `read` event. */
  markReadQuietly(reader: string, peer: string, upTo: string): Promise<ReadResult>;
  typingOff(user: string): Promise<boolean>;
  presenceOff(users: string[]): Promise<boolean[]>;
}

/** A stream `Chat.openStream` opened: the stream itself, and when it caught up from the store. */
export interface OpenedStream {
  stream: EventStream;
  started: Promise<void>;
}

const noObserver: ChatObserver = { messageStored() {}, storeLatency() {} };

/**
 * The chat itself, knowing nothing of HTTP or sockets: each operation checks who may do it,
 * goes to the store, and publishes the resulting events through the hub.
 */
export class Chat {
  readonly store: Store;
  readonly hub: Hub;
  readonly presence: PresenceRegistry;
  readonly pairs: PairService;
  private readonly sendLimiter: RateLimiter;
  private readonly typingLimiter = new RateLimiter(5, 10);
  private readonly observer: ChatObserver;
  private readonly pruneTimer: NodeJS.Timeout;
  /** Webhooks (SPEC 14): `chat.outboxEvents.emit(type, data)`; see src/core/ports/outbox.ts. */
  outboxEvents = new OutboxEvents(null, []);
  /**
   * Drops `user`'s pending notifications about messages from `peer` (all peers when absent): for
   * unmatch, block, unsend (call it for each direction that applies), ban and erase. A no-op while
   * notifications are off; src/offline.ts sets it (Notifier.dropPending).
   */
  dropPendingNotifications: (user: string, peer?: string) => Promise<void> = async () => {};
  /** Called after each new message is stored, when the store wrote outbox entries with it. */
  onStored: (() => void) | null = null;
  /** SPEC 12's checks, when configured (see SafetyGate); edits use them too. */
  readonly safety: SafetyGate | undefined;
  /** SPEC 12's reports: filed by users, listed and resolved by the server API. */
  readonly reports: ReportService;
  private readonly onFlagged: (message: Message, reasons: FlagReason[]) => void;
  /** Unset: everyone shares read receipts, typing and presence (sections 1-10). */
  privacy: ChatPrivacy | undefined;

  constructor(
    store: Store,
    hub: Hub,
    presence: PresenceRegistry,
    options: ChatOptions,
    observer = noObserver,
  ) {
    this.store = store;
    this.hub = hub;
    this.presence = presence;
    this.observer = observer;
    this.sendLimiter = new RateLimiter(options.sendRate, options.sendBurst);
    this.pairs = new PairService(store.pairs, options.pairs ?? "open", (events) => this.publish(events));
    // SPEC 11: an unmatch drops the pair's pending notifications, both ways; SPEC 14: the
    // pair.unmatched webhook (users sorted, as the server API answers a pair).
    this.pairs.onUnmatch = async (a, b, historyDeleted) => {
      const users = a < b ? [a, b] : [b, a];
      await Promise.all([
        this.dropPendingNotifications(a, b),
        this.dropPendingNotifications(b, a),
        this.outboxEvents.emit("pair.unmatched", { users, historyDeleted }),
      ]);
    };
    this.safety = options.safety;
    this.onFlagged = options.onFlagged ?? (() => {});
    this.reports = new ReportService({
      store: store.reports,
      latest: async (user, peer, limit) => (await store.history(user, peer, { limit })).messages,
      // Read at each report: the offline module installs the outbox after the chat is made.
      created: (report) => this.outboxEvents.emit("report.created", { report }),
    });
    this.pruneTimer = setInterval(() => {
      this.sendLimiter.prune();
      this.typingLimiter.prune();
    }, 60_000);
    this.pruneTimer.unref();
    // A write answered store_unavailable may commit afterwards (a Redis command cannot be
    // withdrawn once written): its events are published then, and where the outcome is unknown
    // the users' connections read the store.
    store.onLateWrite?.((events, unsure) => {
      this.publish(events);
      for (const user of unsure) this.hub.publish(user, { kind: "sync" });
    });
  }

  /**
   * `work`, timed: one promise more per store call, not an async function's two. `onValue` runs
   * on success before the value is handed on (a send publishes its events there).
   */
  private timed<T>(op: string, work: Promise<T>, onValue?: (value: T) => void): Promise<T> {
    const start = performance.now();
    const observe = () => this.observer.storeLatency(op, (performance.now() - start) / 1000);
    return work.then(
      (value) => {
        observe();
        onValue?.(value);
        return value;
      },
      (err: unknown) => {
        observe();
        throw err;
      },
    );
  }

  /** Serialises each event once for its user and hands it to every connection of that user. */
  private publish(events: UserEvent[]): void {
    for (const { user, event, json, carriedBy } of events) {
      const sentAt = event.type === "message" ? event.message.ts : undefined;
      const text = json ?? JSON.stringify(event);
      if (carriedBy === "store") this.hub.deliverHere(user, event.seq, text, sentAt);
      else this.hub.publishEvent(user, event.seq, text, sentAt);
    }
  }

  /**
   * A user's message. Rate limited per sender; a repeat `clientMsgId` returns the original.
   * `json` is the message serialised, when the store had it: transports answer with it as is.
   */
  send(input: SendInput): Promise<Sent> {
    const wait = this.sendLimiter.take(input.from);
    if (wait > 0) return Promise.reject(new DuetError("rate_limited", undefined, wait));
    if (this.safety === undefined) return this.storeSend(input);
    return this.safety.check(input).then((checked) => {
      const sent = this.storeSend(checked.input);
      const flagged = checked.flagged;
      if (flagged === null) return sent;
      return sent.then(async (result) => {
        if (!result.duplicate) await this.flag(result.message, flagged);
        return result;
      });
    });
  }

  /**
   * A stored message (a send's or an edit's) the screen or the moderation flagged: logged, and the
   * `message.flagged` webhook enqueued before the sender is answered, so an answered flag survives
   * a crash. The message is stored already: an outbox that cannot take the entry costs the flag,
   * not the message.
   */
  async flag(message: Message, reasons: FlagReason[]): Promise<void> {
    this.onFlagged(message, reasons);
    await this.outboxEvents.emit("message.flagged", { message, reasons }).catch(() => {});
  }

  /** A system message from the server API: not rate limited, not subject to blocks. */
  sendSystem(input: SendInput): Promise<Sent> {
    return this.storeSend(input);
  }

  /** The store's answer is timed, published and handed back as it is (a SendResult is a Sent). */
  private storeSend(input: SendInput): Promise<Sent> {
    return this.timed("send", this.store.send(input), (result) => this.stored(input, result));
  }

  private stored(input: SendInput, result: SendResult): void {
    if (!result.duplicate) {
      this.observer.messageStored(input.kind);
      this.onStored?.();
    }
    // A repeat has no events, unless it completed a send interrupted between its steps (Redis
    // Cluster): those events are new, and reach the connections now rather than at the next one.
    this.publish(result.events);
    if (result.duplicate) {
      // The first attempt may have been stored by a process that died, or answered after the
      // client gave up, before publishing: both sides' connections check the store.
      this.hub.publish(input.from, { kind: "sync" });
      this.hub.publish(input.to, { kind: "sync" });
    }
  }

  /**
   * Before a mark-read: whether `reader` may mark read across from `peer` (receipts stop at a
   * block either way and between unmatched users, SPEC 11), and whether the peer must not learn
   * it (the reader's read receipts are off). The two reads go to the store together, not in turn.
   */
  private async readCheck(reader: string, peer: string): Promise<boolean> {
    const privacy = this.privacy;
    const [, quiet] = await Promise.all([
      this.pairs.check(reader, peer),
      privacy === undefined ? false : privacy.readReceiptsOff(reader),
    ]);
    return quiet;
  }

  async markRead(reader: string, peer: string, upTo: string): Promise<{ upTo: string | null }> {
    return this.mark(reader, peer, upTo, await this.readCheck(reader, peer));
  }

  private async mark(reader: string, peer: string, upTo: string, quiet: boolean) {
    const privacy = this.privacy;
    const marking =
      quiet && privacy !== undefined
        ? privacy.markReadQuietly(reader, peer, upTo)
        : this.store.markRead(reader, peer, upTo);
    const result = await this.timed("mark_read", marking);
    this.publish(result.events);
    return { upTo: result.upTo };
  }

  async readUnread(reader: string, peer: string, limit: number, markRead: boolean): Promise<Message[]> {
    if (markRead && (await this.readCheck(reader, peer))) {
      // Read receipts off: read, then mark exactly those read without telling the peer.
      const { messages } = await this.timed("read_unread", this.store.readUnread(reader, peer, limit, false));
      const last = messages.at(-1);
      if (last !== undefined) await this.mark(reader, peer, last.id, true);
      return messages;
    }
    const result = await this.timed("read_unread", this.store.readUnread(reader, peer, limit, markRead));
    this.publish(result.events);
    return result.messages;
  }

  /** Ephemeral: reaches the peer's open connections only, never stored. */
  async typing(from: string, to: string): Promise<void> {
    if (from === to) throw new DuetError("self_message", "You cannot type to yourself.");
    const wait = this.typingLimiter.take(from);
    if (wait > 0) throw new DuetError("rate_limited", undefined, wait);
    // A block cuts both ways for typing: neither side sees the other type.
    await this.pairs.check(from, to);
    // Typing turned off (SPEC 13): the peer never learns it; the call still succeeds.
    if (this.privacy !== undefined && (await this.privacy.typingOff(from))) return;
    this.hub.publish(to, { kind: "event", seq: null, json: JSON.stringify({ type: "typing", from }) });
  }

  history(user: string, peer: string, query: { before?: string; after?: string; limit: number }) {
    return this.timed("history", this.store.history(user, peer, query));
  }

  conversations(user: string, limit: number, before?: number): Promise<ConversationSummary[]> {
    return this.timed("conversations", this.store.conversations(user, limit, before));
  }

  blocks(user: string): Promise<string[]> {
    return this.store.blocks(user);
  }

  async block(user: string, other: string): Promise<void> {
    if (user === other) throw new DuetError("invalid_input", "You cannot block yourself.");
    await this.store.block(user, other);
  }

  unblock(user: string, other: string): Promise<void> {
    return this.store.unblock(user, other);
  }

  /**
   * Presence as `viewer` may see it: whoever blocked the viewer always looks offline; asking for
   * a user the viewer is not matched with (as the pairs mode says) is not_matched.
   */
  async presenceFor(viewer: string, users: string[]): Promise<Record<string, PresenceInfo>> {
    const [info, blockedBy, hidden] = await Promise.all([
      this.presence.query(users),
      Promise.all(users.map((u) => (u === viewer ? false : this.pairs.blockedForPresence(viewer, u)))),
      this.privacy?.presenceOff(users),
    ]);
    users.forEach((u, i) => {
      // Presence turned off (SPEC 13) shows offline with no lastSeen, to others.
      if (blockedBy[i] || (hidden?.[i] === true && u !== viewer)) info[u] = { online: false };
    });
    return info;
  }

  /**
   * Opens `user`'s event stream on a transport's `sink`: hello, every stored event after `cursor`
   * exactly once and in order, then live events (see EventStream). The stream is registered at
   * once (the transport keeps it, to stop it when its connection ends); `started` settles once it
   * has caught up, and rejects, the stream stopped, when the store cannot be read.
   */
  openStream(user: string, cursor: ResumeFrom, sink: Sink): OpenedStream {
    const stream = new EventStream(this.hub, this.store, user, sink);
    const started = stream.start(cursor);
    started.catch(() => stream.stop());
    return { stream, started };
  }

  /** The store's epoch: what a stream's hello and a poll's answer carry. */
  get epoch(): string {
    return this.store.epoch;
  }

  /** Messages stored in all (the server API's stats). */
  countMessages(): Promise<number> {
    return this.store.countMessages();
  }

  /** Open connections on this process, by transport (the server API's stats). */
  connectionsByTransport(): Record<TransportKind, number> {
    return this.hub.connectionsByTransport();
  }

  /** Closes every connection of `user` on every process. */
  disconnect(user: string): void {
    this.hub.publish(user, { kind: "disconnect" });
  }

  close(): void {
    clearInterval(this.pruneTimer);
  }
}
