/**
 * The SDK's local view of each conversation (SPEC 13): its messages in order, each in its current
 * state (edited text, tombstone after an unsend, reactions by user) and, for the user's own
 * messages, the tick the peer's receipts earn it (sent, delivered, read). An app renders
 * `view.messages` and re-renders on `change`, with no bookkeeping of its own.
 *
 * Every rule here is order-free, so an event seen twice (a replay after a resume) or late (an
 * answer to a history request that was overtaken by the stream) changes nothing it should not:
 * - content (text, image, links) is last-writer-wins by `editedAt`, and a tombstone absorbs all;
 * - a reaction is one register per (emoji, user), last-writer-wins by the event's `seq`, laid
 *   over the reactions the message carried when it was last seen whole;
 * - receipt markers only move forward (message ids sort in conversation order);
 * - a message with `expiresAt` (SPEC 15) becomes its tombstone at that time by the view's own
 *   clock: the server sends no event for it. One timer per view, for the earliest expiry.
 */
import type {
  ConversationSummary,
  DeleteEvent,
  DeliveredEvent,
  EditEvent,
  Message,
  MessageEvent,
  PairEvent,
  ReactionEvent,
  ReadEvent,
  StoredEvent,
  TtlEvent,
} from "../core/types.js";
import { Emitter } from "./emitter.js";

/** What the peer's receipts say of one of my messages. */
export type Tick = "sent" | "delivered" | "read";

/** A message as the view shows it: its current state, and whose it is. */
export interface ViewMessage extends Message {
  /** True for the user's own messages (sent from any of their devices). */
  mine: boolean;
  /** For my messages, how far it got (from the server's receipts); null for the peer's. */
  tick: Tick | null;
}

/** A view changed: `ids` are the messages whose state (or tick) changed; empty when only markers did. */
export interface ViewChange {
  peer: string;
  ids: string[];
}

export interface ConversationViewEvents {
  change: ViewChange;
}

/** What a view needs from the client: the HTTP reads it seeds itself from. */
export interface ViewSource {
  history(
    peer: string,
    options: { before?: string; limit?: number },
  ): Promise<{ messages: Message[]; hasMore: boolean }>;
  conversations(options: { limit?: number; before?: number }): Promise<ConversationSummary[]>;
}

interface Register {
  on: boolean;
  seq: number;
}

/** One message's state, kept as the pieces it is merged from. */
interface Entry {
  id: string;
  /** The message as last seen whole (from history or a message/edit event); null until then. */
  base: Message | null;
  /** The seq of the event that carried `base` (0: from an HTTP answer, whose time is unknown). */
  baseSeq: number;
  /** Unsent: the time it was, once known (absorbs every other change). */
  deletedAt: number | null;
  /** Per emoji, per user: the newest reaction event seen. */
  reactions: Map<string, Map<string, Register>>;
  /** Seqs of events already applied to this message (a replay is recognised and skipped). */
  seen: Set<number>;
}

function maxId(a: string | null, b: string | null | undefined): string | null {
  if (b === null || b === undefined) return a;
  return a === null || b > a ? b : a;
}

const CONTENT_FIELDS = ["text", "image", "links", "editedAt", "screened", "moderated"] as const;

/** The longest delay a timer takes (setTimeout's limit, ~24.8 days); a later expiry re-arms it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The state of one conversation. Get it with `client.view(peer)`; call `load()` once. */
export class ConversationView {
  readonly peer: string;
  private readonly entries = new Map<string, Entry>();
  /** Sorted ids of the entries that have a base (the messages shown). */
  private order: string[] = [];
  private readonly emitter = new Emitter<ConversationViewEvents>();
  private readonly source: ViewSource | null;
  private peerRead: string | null = null;
  private peerDelivered: string | null = null;
  private myRead: string | null = null;
  private loading: Promise<void> | null = null;
  private loadedValue = false;
  private moreBefore = false;
  /** Inside `batch`: the messages changed so far, and whether anything (markers too) did. */
  private pending: Set<string> | null = null;
  private dirty = false;
  private cache: ViewMessage[] | null = null;
  /** SPEC 15: the conversation's own ttl (s; 0: none), and the seq of the event that set it. */
  private ttlSeconds = 0;
  private ttlSeq = 0;
  /** Ids of the messages with an expiresAt still to come (shown whole until then). */
  private readonly expiring = new Set<string>();
  /** The one timer of this view, armed for the earliest of them (`timerAt`). */
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = 0;
  private closed = false;

  constructor(peer: string, source: ViewSource | null = null) {
    this.peer = peer;
    this.source = source;
  }

  on<K extends keyof ConversationViewEvents>(
    type: K,
    listener: (value: ConversationViewEvents[K]) => void,
  ): () => void {
    return this.emitter.on(type, listener);
  }

  off<K extends keyof ConversationViewEvents>(
    type: K,
    listener: (value: ConversationViewEvents[K]) => void,
  ): void {
    this.emitter.off(type, listener);
  }

  /** The messages loaded or received so far, oldest first, each in its current state. */
  get messages(): ViewMessage[] {
    this.cache ??= this.order.map((id) => this.render(id)).filter((m): m is ViewMessage => m !== null);
    return this.cache;
  }

  /** One message in its current state (undefined when the view does not hold it). */
  message(id: string): ViewMessage | undefined {
    return this.entries.get(id)?.base ? (this.render(id) ?? undefined) : undefined;
  }

  /** The last of my messages the peer has read (null: none, or their read receipts are off). */
  get peerReadUpTo(): string | null {
    return this.peerRead;
  }

  /** The last of my messages that reached a device of the peer's (a read one did too). */
  get peerDeliveredUpTo(): string | null {
    return maxId(this.peerDelivered, this.peerRead);
  }

  /** The last of the peer's messages the user has read (on any device). */
  get readUpTo(): string | null {
    return this.myRead;
  }

  /**
   * SPEC 15: the conversation's own disappearing-messages ttl in seconds (0: none; the server's
   * default, if any, is not shown). From the conversation list, then from `ttl` events.
   */
  get ttl(): number {
    return this.ttlSeconds;
  }

  /** Whether `load()` has completed once. */
  get loaded(): boolean {
    return this.loadedValue;
  }

  /** Whether older messages than those held are on the server (`loadOlder()`). */
  get hasMore(): boolean {
    return this.moreBefore;
  }

  /** The tick one of my messages has earned. */
  tickOf(id: string): Tick {
    if (this.peerRead !== null && id <= this.peerRead) return "read";
    const delivered = this.peerDeliveredUpTo;
    return delivered !== null && id <= delivered ? "delivered" : "sent";
  }

  /**
   * Seeds the view from the server: the newest page of history and the conversation's receipt
   * markers (`GET /v1/conversations`). Concurrent calls share one load; call it again to refresh.
   */
  load(options: { limit?: number } = {}): Promise<void> {
    const source = this.source;
    if (source === null) return Promise.resolve();
    this.loading ??= (async () => {
      try {
        const [page, summary] = await Promise.all([
          source.history(this.peer, { limit: options.limit ?? 50 }),
          this.findSummary(source),
        ]);
        this.batch(() => {
          if (summary !== null) this.seedSummary(summary);
          this.seedMessages(page.messages);
          // The newest page says nothing of what is older than it unless we hold nothing older.
          const oldest = this.order[0];
          if (oldest === undefined || page.messages[0]?.id === oldest) this.moreBefore = page.hasMore;
        });
        this.loadedValue = true;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** Loads the page of history before the oldest message held. */
  async loadOlder(options: { limit?: number } = {}): Promise<void> {
    const oldest = this.order[0];
    if (this.source === null || oldest === undefined) return;
    const page = await this.source.history(this.peer, { before: oldest, limit: options.limit ?? 50 });
    this.batch(() => {
      this.seedMessages(page.messages);
      this.moreBefore = page.hasMore;
    });
  }

  /** The conversation's summary, from the first pages of the list (a few at most). */
  private async findSummary(source: ViewSource): Promise<ConversationSummary | null> {
    let before: number | undefined;
    for (let page = 0; page < 5; page++) {
      const list = await source.conversations({ limit: 100, ...(before === undefined ? {} : { before }) });
      const found = list.find((c) => c.peer === this.peer);
      if (found !== undefined) return found;
      const last = list.at(-1);
      if (list.length < 100 || last === undefined) return null;
      before = last.updatedAt;
    }
    return null;
  }

  // ---- merging ------------------------------------------------------------------------------

  /** Messages from an HTTP answer (history, unread, a send's or edit's answer). */
  seedMessages(messages: readonly Message[]): void {
    this.batch(() => {
      for (const m of messages) this.mergeBase(m, 0);
    });
  }

  /** A conversation-list entry: its receipt markers, ttl and last message. */
  seedSummary(summary: ConversationSummary): void {
    this.batch(() => {
      this.markers(summary.peerReadUpTo ?? null, summary.peerDeliveredUpTo ?? null);
      // A ttl event seen on the stream is newer than a list read whose time is unknown.
      if (this.ttlSeq === 0 && typeof summary.ttl === "number" && summary.ttl !== this.ttlSeconds) {
        this.ttlSeconds = summary.ttl;
        this.announce();
      }
      if (summary.lastMessage !== null) this.mergeBase(summary.lastMessage, 0);
    });
  }

  /** Applies one stored event of this conversation (any order, any number of times). */
  apply(event: StoredEvent): void {
    this.batch(() => {
      switch (event.type) {
        case "message":
          this.onMessage(event);
          return;
        case "edit":
          this.onEdit(event);
          return;
        case "delete":
          this.onDelete(event);
          return;
        case "reaction":
          this.onReaction(event);
          return;
        case "read":
          this.onRead(event);
          return;
        case "delivered":
          this.onDelivered(event);
          return;
        case "ttl":
          this.onTtl(event);
          return;
        default:
          return; // pair events concern the conversation, not its messages
      }
    });
  }

  /** Stops the view's expiry timer for good (the client closed); the state stays readable. */
  close(): void {
    this.closed = true;
    this.disarm();
  }

  /** Forgets everything (the server's log was reset, or the conversation erased). */
  clear(): void {
    this.entries.clear();
    this.expiring.clear();
    this.disarm();
    this.ttlSeconds = 0;
    this.ttlSeq = 0;
    this.order = [];
    this.peerRead = null;
    this.peerDelivered = null;
    this.myRead = null;
    this.loadedValue = false;
    this.moreBefore = false;
    this.cache = null;
    this.emitter.emit("change", { peer: this.peer, ids: [] });
  }

  private onMessage(event: MessageEvent): void {
    const entry = this.entry(event.message.id);
    if (entry.seen.has(event.seq)) return;
    entry.seen.add(event.seq);
    this.mergeBase(event.message, event.seq);
  }

  private onEdit(event: EditEvent): void {
    const entry = this.entry(event.message.id);
    if (entry.seen.has(event.seq)) return;
    entry.seen.add(event.seq);
    this.mergeBase(event.message, event.seq);
  }

  private onDelete(event: DeleteEvent): void {
    const entry = this.entry(event.id);
    if (entry.seen.has(event.seq)) return;
    entry.seen.add(event.seq);
    if (entry.deletedAt !== null) return;
    entry.deletedAt = entry.base?.deletedAt ?? Date.now();
    this.expiring.delete(entry.id);
    this.touched(entry);
  }

  private onReaction(event: ReactionEvent): void {
    const entry = this.entry(event.id);
    if (entry.seen.has(event.seq)) return;
    entry.seen.add(event.seq);
    let users = entry.reactions.get(event.emoji);
    if (users === undefined) {
      users = new Map();
      entry.reactions.set(event.emoji, users);
    }
    const current = users.get(event.user);
    if (current !== undefined && current.seq >= event.seq) return; // an older event, late
    users.set(event.user, { on: event.on, seq: event.seq });
    this.touched(entry);
  }

  private onRead(event: ReadEvent): void {
    if (event.reader === this.peer) this.markers(event.upTo, null);
    else {
      const before = this.myRead;
      this.myRead = maxId(this.myRead, event.upTo);
      if (before !== this.myRead) this.announce();
    }
  }

  private onDelivered(event: DeliveredEvent): void {
    this.markers(null, event.upTo);
  }

  private onTtl(event: TtlEvent): void {
    if (event.seq <= this.ttlSeq) return; // a replay, or older than one seen
    this.ttlSeq = event.seq;
    if (this.ttlSeconds === event.seconds) return;
    this.ttlSeconds = event.seconds;
    this.announce();
  }

  // ---- expiry (SPEC 15) -----------------------------------------------------------------------

  /** After a merge: an expired message becomes its tombstone now; a later one is watched. */
  private watchExpiry(entry: Entry): void {
    const at = entry.base?.expiresAt;
    if (entry.deletedAt !== null || at === undefined) {
      this.expiring.delete(entry.id);
      return;
    }
    if (at <= Date.now()) {
      this.expiring.delete(entry.id);
      entry.deletedAt = at;
      this.touched(entry);
    } else this.expiring.add(entry.id);
  }

  /** Every watched message whose time has come becomes its tombstone (deletedAt = expiresAt). */
  private expireDue(): void {
    const now = Date.now();
    for (const id of [...this.expiring]) {
      const entry = this.entries.get(id);
      const at = entry?.base?.expiresAt;
      if (entry === undefined || entry.deletedAt !== null || at === undefined) this.expiring.delete(id);
      else if (at <= now) {
        this.expiring.delete(id);
        entry.deletedAt = at;
        this.touched(entry);
      }
    }
  }

  /** Arms the one timer for the earliest expiry still to come (or none). */
  private arm(): void {
    if (this.closed) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const id of this.expiring) {
      const at = this.entries.get(id)?.base?.expiresAt;
      if (at !== undefined && at < earliest) earliest = at;
    }
    if (earliest === Number.POSITIVE_INFINITY) {
      this.disarm();
      return;
    }
    if (this.timer !== null && this.timerAt === earliest) return;
    this.disarm();
    this.timerAt = earliest;
    const delay = Math.min(Math.max(earliest - Date.now(), 0), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.batch(() => this.expireDue()); // re-arms for the next one as it ends
    }, delay);
    // A view's timer alone should not keep a Node process running.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = 0;
  }

  /** Moves the peer's receipt markers forward; the messages whose tick changed are announced. */
  private markers(read: string | null, delivered: string | null): void {
    const before = { read: this.peerRead, delivered: this.peerDeliveredUpTo };
    this.peerRead = maxId(this.peerRead, read);
    this.peerDelivered = maxId(this.peerDelivered, delivered);
    const after = this.peerDeliveredUpTo;
    const readMoved = before.read !== this.peerRead;
    if (!readMoved && before.delivered === after) return;
    // My messages past the lower of the markers that moved, up to the newest, changed tick.
    const low = readMoved ? (before.read ?? "") : (before.delivered ?? "");
    for (const id of this.order) {
      const entry = this.entries.get(id);
      if (entry?.base && entry.base.from !== this.peer && id > low && id <= (after ?? ""))
        this.touched(entry);
    }
    this.announce();
  }

  /**
   * A whole message: its content replaces ours when it is a newer edit (or ours is missing), a
   * tombstone ends the message for good, and its reactions become the base the newer reaction
   * events are laid over when it comes from a newer event.
   */
  private mergeBase(m: Message, seq: number): void {
    const entry = this.entry(m.id);
    const base = entry.base;
    if (m.kind === "deleted") {
      if (base === null) entry.base = { ...m };
      if (entry.deletedAt === null) entry.deletedAt = m.deletedAt ?? Date.now();
      else if (m.deletedAt !== undefined) entry.deletedAt = m.deletedAt;
      this.touched(entry);
      this.watchExpiry(entry);
      return;
    }
    if (base === null) {
      entry.base = { ...m };
      entry.baseSeq = seq;
      this.touched(entry);
      this.watchExpiry(entry);
      return;
    }
    let changed = false;
    const newer = (m.editedAt ?? 0) > (base.editedAt ?? 0);
    if (newer) {
      const next: Record<string, unknown> = { ...base, kind: m.kind };
      for (const field of CONTENT_FIELDS) {
        if (m[field] === undefined) delete next[field];
        else next[field] = m[field];
      }
      entry.base = next as unknown as Message;
      changed = true;
    }
    // Reactions: a whole message carried by a newer event replaces the base; one from an HTTP
    // answer only fills a base that no event has carried yet.
    if (seq > entry.baseSeq || (seq === 0 && entry.baseSeq === 0)) {
      const before = JSON.stringify(entry.base?.reactions ?? {});
      const reactions = m.reactions;
      const target = entry.base as Message;
      if (reactions === undefined) delete target.reactions;
      else target.reactions = reactions;
      entry.baseSeq = Math.max(entry.baseSeq, seq);
      if (JSON.stringify(reactions ?? {}) !== before) changed = true;
    }
    if (changed) this.touched(entry);
    this.watchExpiry(entry);
  }

  private entry(id: string): Entry {
    let entry = this.entries.get(id);
    if (entry === undefined) {
      entry = {
        id,
        base: null,
        baseSeq: 0,
        deletedAt: null,
        reactions: new Map(),
        seen: new Set(),
      };
      this.entries.set(id, entry);
    }
    return entry;
  }

  /** The message's current state, or null while only events about it (no body) are known. */
  private render(id: string): ViewMessage | null {
    const entry = this.entries.get(id);
    const base = entry?.base;
    if (entry === undefined || base === null || base === undefined) return null;
    const mine = base.from !== this.peer;
    const tick = mine && base.kind !== "system" ? this.tickOf(id) : null;
    if (entry.deletedAt !== null) {
      return {
        id: base.id,
        from: base.from,
        to: base.to,
        ts: base.ts,
        kind: "deleted",
        text: null,
        image: null,
        links: [],
        clientMsgId: base.clientMsgId ?? null,
        deletedAt: entry.deletedAt,
        mine,
        tick,
      };
    }
    const out: ViewMessage = { ...base, links: base.links ?? [], mine, tick };
    const reactions = this.reactionsOf(entry);
    if (reactions === undefined) delete out.reactions;
    else out.reactions = reactions;
    return out;
  }

  private reactionsOf(entry: Entry): Record<string, string[]> | undefined {
    const result: Record<string, string[]> = {};
    const base = entry.base?.reactions ?? {};
    const emojis = new Set([...Object.keys(base), ...entry.reactions.keys()]);
    for (const emoji of emojis) {
      const registers = entry.reactions.get(emoji);
      const users = (base[emoji] ?? []).filter((u) => {
        const r = registers?.get(u);
        return r === undefined || r.seq <= entry.baseSeq || r.on;
      });
      if (registers !== undefined) {
        const added = [...registers.entries()]
          .filter(([u, r]) => r.on && r.seq > entry.baseSeq && !users.includes(u))
          .sort((a, b) => a[1].seq - b[1].seq)
          .map(([u]) => u);
        users.push(...added);
      }
      if (users.length > 0) result[emoji] = users;
    }
    return Object.keys(result).length > 0 ? result : undefined;
  }

  // ---- change announcements -------------------------------------------------------------

  private touched(entry: Entry): void {
    if (entry.base !== null && !this.order.includes(entry.id)) {
      // Insert in id order (ids sort in the order the server stored them).
      let i = this.order.length;
      while (i > 0 && (this.order[i - 1] as string) > entry.id) i--;
      this.order.splice(i, 0, entry.id);
    }
    if (entry.base === null) return; // nothing to show yet
    this.cache = null;
    this.dirty = true;
    this.pending?.add(entry.id);
  }

  private announce(): void {
    this.cache = null;
    this.dirty = true;
  }

  /** Runs `work`, then announces one change for everything it did (nested calls fold in). */
  private batch(work: () => void): void {
    if (this.pending !== null) {
      work();
      return;
    }
    this.pending = new Set();
    this.dirty = false;
    try {
      work();
    } finally {
      const ids = [...this.pending];
      const dirty = this.dirty;
      this.pending = null;
      this.dirty = false;
      this.arm();
      if (dirty) this.emitter.emit("change", { peer: this.peer, ids });
    }
  }
}

/** The client events a view is fed from. */
export interface ViewFeed {
  message: MessageEvent;
  read: ReadEvent;
  pair: PairEvent;
  edit: EditEvent;
  delete: DeleteEvent;
  reaction: ReactionEvent;
  delivered: DeliveredEvent;
  ttl: TtlEvent;
  reset: { reason: "initial" | "reset" };
}

/** The conversation an event belongs to, seen from `me` (null: not a conversation's event). */
function peerOf(event: StoredEvent, me: string | null): string | null {
  switch (event.type) {
    case "message":
    case "edit": {
      const m = event.message;
      if (me !== null) return m.from === me ? m.to : m.from;
      return null;
    }
    default:
      return event.peer;
  }
}

/**
 * Every view of one client: events go to their conversation's view (views not asked for yet keep
 * nothing: their `load()` reads the server's state, which includes those events).
 */
export class MessageViews {
  private readonly views = new Map<string, ConversationView>();

  /**
   * `me`: who the user is, when known (the stream's hello), to tell a message event's peer;
   * `onChange`: every view's changes, for the client's `change` event.
   */
  constructor(
    private readonly source: ViewSource,
    private readonly me: () => string | null,
    private readonly onChange: (change: ViewChange) => void,
  ) {}

  /** Feeds the views from the client's own (deduplicated, ordered) events. */
  listen(on: <K extends keyof ViewFeed>(type: K, listener: (value: ViewFeed[K]) => void) => unknown): void {
    const apply = (event: StoredEvent) => this.apply(event);
    for (const type of ["message", "read", "pair", "edit", "delete", "reaction", "delivered", "ttl"] as const)
      on(type, apply);
    on("reset", (e) => {
      if (e.reason === "reset") this.reset();
    });
  }

  get(peer: string): ConversationView {
    let view = this.views.get(peer);
    if (view === undefined) {
      view = new ConversationView(peer, this.source);
      view.on("change", this.onChange);
      this.views.set(peer, view);
    }
    return view;
  }

  apply(event: StoredEvent): void {
    if (event.type === "message" || event.type === "edit") {
      const m = event.message;
      // Without knowing who we are, a message belongs to whichever of its two sides has a view.
      const peer = peerOf(event, this.me());
      const targets = peer !== null ? [peer] : [m.from, m.to];
      for (const p of targets) this.views.get(p)?.apply(event);
      return;
    }
    if (event.type === "pair") {
      if (event.state === "unmatched" && event.historyDeleted) this.views.get(event.peer)?.clear();
      return;
    }
    this.views.get(event.peer)?.apply(event);
  }

  seedSummaries(list: readonly ConversationSummary[]): void {
    for (const s of list) this.views.get(s.peer)?.seedSummary(s);
  }

  /** A message the client got from an HTTP answer (a send): into its conversation's view. */
  seedMessage(m: Message): void {
    const me = this.me();
    for (const p of me !== null ? [m.from === me ? m.to : m.from] : [m.from, m.to])
      this.views.get(p)?.seedMessages([m]);
  }

  /** The client closed: every view's expiry timer stops. */
  close(): void {
    for (const view of this.views.values()) view.close();
  }

  /** The server could not resume: every view reloads from the server's current state. */
  reset(): void {
    for (const view of this.views.values()) {
      const wasLoaded = view.loaded;
      view.clear();
      if (wasLoaded) void view.load().catch(() => {});
    }
  }
}
