import type { NotificationPreferences } from "../ports/notification-preferences.js";
import type { NewOutboxEntry, Outbox, OutboxEntry } from "../ports/outbox.js";
import type { PresenceRegistry } from "../ports/presence.js";
import type { Message } from "../types.js";
import { Deferred } from "./dispatcher.js";

/** The `notification` webhook's data, and the Web Push payload (SPEC section 14). */
export interface Notification {
  user: string;
  from: string;
  count: number;
  unreadTotal: number;
  lastMessage: { id: string; kind: string; preview: string | null };
}

/** What the notifier reads from the store. */
export interface NotifierStore {
  readUnread(
    reader: string,
    peer: string,
    limit: number,
    markRead: boolean,
  ): Promise<{ messages: Message[] }>;
  conversations(user: string, limit: number): Promise<{ unread: number }[]>;
  isBlocked(blocker: string, blocked: string): Promise<boolean>;
}

/** Turns one notification into outbox entries (the webhook, one Web Push per subscription). */
export type NotificationSink = (notification: Notification, key: string) => Promise<NewOutboxEntry[]>;

export interface NotifierOptions {
  groupMs: number;
  preview: boolean;
}

const PREVIEW_CHARS = 120;
/** How long the notifier's marks (last notified, dropped before) are kept. */
const MARK_TTL_MS = 86_400_000;

/**
 * Scheduled notifications (SPEC section 14). Each message to a user gets a `notify` entry in the
 * outbox, written by the store with the message and due DUET_NOTIFY_DELAY_S later (so a restart
 * during the delay loses nothing). When it is due, this decides:
 * - nothing, when the user is online anywhere now, or was since the message (presence is
 *   cross-process on Redis), has read it, blocked the peer, muted the conversation, turned
 *   notifications off, or a drop (dropPending) came after the message;
 * - nothing, when a newer message from the same peer is pending too and the burst is younger than
 *   DUET_NOTIFY_GROUP_S: the newest one's entry notifies for the whole burst;
 * - later, when the pair was notified less than DUET_NOTIFY_GROUP_S ago (one per window);
 * - otherwise one notification counting every unread message from the peer since the last one.
 * Marks in the outbox remember the last notified message per conversation and drops.
 */
export class Notifier {
  private readonly outbox: Outbox;
  private readonly store: NotifierStore;
  private readonly presence: PresenceRegistry;
  private readonly options: NotifierOptions;
  /** Replaced by the settings' owner (see NotificationPreferences). */
  preferences: NotificationPreferences;
  private readonly sinks: NotificationSink[];
  private readonly enqueued: () => void;

  constructor(deps: {
    outbox: Outbox;
    store: NotifierStore;
    presence: PresenceRegistry;
    preferences: NotificationPreferences;
    sinks: NotificationSink[];
    options: NotifierOptions;
    enqueued: () => void;
  }) {
    this.outbox = deps.outbox;
    this.store = deps.store;
    this.presence = deps.presence;
    this.preferences = deps.preferences;
    this.sinks = deps.sinks;
    this.options = deps.options;
    this.enqueued = deps.enqueued;
  }

  /**
   * Drops `user`'s pending notifications: about messages from `peer`, or from everyone when `peer`
   * is absent (unmatch, block, unsend: the pair; ban, erase: the user). Messages that come later
   * are notified as usual. For a pair, call it for both directions.
   */
  async dropPending(user: string, peer?: string): Promise<void> {
    await this.outbox.setMark(
      peer === undefined ? `drop:${user}` : `drop:${user} ${peer}`,
      String(Date.now()),
      MARK_TTL_MS,
    );
  }

  /** The outbox handler of `notify` entries. */
  readonly handle = async (entry: OutboxEntry): Promise<void> => {
    const { user, peer, id, ts } = JSON.parse(entry.data) as {
      user: string;
      peer: string;
      id: string;
      ts: number;
    };
    const [droppedAll, droppedPair, last] = await Promise.all([
      this.outbox.getMark(`drop:${user}`),
      this.outbox.getMark(`drop:${user} ${peer}`),
      this.outbox.getMark(`last:${user} ${peer}`),
    ]);
    if (Math.max(Number(droppedAll ?? 0), Number(droppedPair ?? 0)) >= ts) return;
    // The mark is "<last notified message id> <when>" (set below).
    const [markedId, markedAt] = last === null ? [] : last.split(" ");
    const lastId = markedId ?? null;
    const lastAt = Number(markedAt ?? 0);
    if (lastId !== null && lastId >= id) return;
    const [presence, on, muted, blocked] = await Promise.all([
      this.presence.query([user]),
      this.preferences.notificationsOn(user),
      this.preferences.muted(user, peer),
      this.store.isBlocked(user, peer),
    ]);
    const seen = presence[user];
    if (seen?.online || (seen?.lastSeen ?? 0) >= ts) return;
    if (!on || muted || blocked) return;
    const { messages } = await this.store.readUnread(user, peer, 200, false);
    const pending = messages.filter((m) => m.from === peer && (lastId === null || m.id > lastId));
    if (!pending.some((m) => m.id === id || m.id > id)) return; // read already
    const now = Date.now();
    const [oldest, newest] = [pending[0], pending.at(-1)];
    if (oldest === undefined || newest === undefined) return; // (not reached: `pending` has `id` or newer)
    // A newer message's entry will notify for the burst, unless the burst has gone on for a window.
    if (newest.id > id && now - oldest.ts < this.options.groupMs) return;
    if (now - lastAt < this.options.groupMs) throw new Deferred(lastAt + this.options.groupMs);
    const conversations = await this.store.conversations(user, 200);
    const notification: Notification = {
      user,
      from: peer,
      count: pending.length,
      unreadTotal: conversations.reduce((sum, c) => sum + c.unread, 0),
      lastMessage: { id: newest.id, kind: newest.kind, preview: this.preview(newest) },
    };
    const entries = (await Promise.all(this.sinks.map((sink) => sink(notification, newest.id)))).flat();
    // Enqueued before the mark: a crash between the two repeats this, and the entries' ids
    // (made from the newest message's id) keep the repeat from adding them twice.
    await this.outbox.enqueue(entries);
    await this.outbox.setMark(`last:${user} ${peer}`, `${newest.id} ${now}`, MARK_TTL_MS);
    if (entries.length > 0) this.enqueued();
  };

  private preview(message: Message): string | null {
    if (!this.options.preview || message.text === null) return null;
    const chars = Array.from(message.text);
    return chars.length <= PREVIEW_CHARS ? message.text : `${chars.slice(0, PREVIEW_CHARS).join("")}…`;
  }
}
