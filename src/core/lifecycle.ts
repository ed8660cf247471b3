/**
 * SPEC 13 as a service beside Chat: edit, unsend, reactions, delivery receipts, settings and
 * mute. It decides with the pure rules of lifecycle-rules.ts, stores through the LifecycleStore
 * port, and publishes the resulting events through the hub like Chat does. It also tells Chat
 * (Chat.privacy) what each user lets peers learn: read receipts, typing, presence.
 */

import type { Chat } from "./chat.js";
import { DuetError } from "./errors.js";
import {
  editRule,
  type LifecycleLimits,
  type MessageChange,
  reactionRule,
  unsendRule,
} from "./lifecycle-rules.js";
import { DEFAULT_SETTINGS, type LifecycleStore, type PrivacyPort } from "./ports/lifecycle.js";
import type { NotificationPreferences } from "./ports/notification-preferences.js";
import type { ReadResult, UserEvent } from "./ports/store.js";
import type { FlagReason } from "./safety/send-gate.js";
import type { ConversationSummary, Message, Settings } from "./types.js";

/** Checks other parts add to lifecycle actions (pairs: not_matched; safety: screen and moderation). */
export interface LifecycleGuards {
  /** Throws when `user` may not act towards `peer` (react, acknowledge delivery). */
  mayInteract?(user: string, peer: string): Promise<void>;
  /**
   * The text an edit of `message` stores, after screening and moderation (as a send's): may
   * rewrite it, or throw (422 message_rejected, 503 moderation_unavailable). `extra` fields
   * (`screened`, `moderated`) go on the message; `flagged`, why the edit is flagged (as a send's).
   */
  screenEdit?(
    message: Message,
    text: string,
  ): Promise<{ text: string; extra?: Partial<Message>; flagged?: FlagReason[] | null }>;
}

/** Listeners for other parts (webhooks `message.updated` / `message.deleted`, notifications). */
export interface LifecycleListener {
  edited?(message: Message): Promise<void> | void;
  unsent?(message: Message, peer: string): Promise<void> | void;
}

export class Lifecycle implements PrivacyPort, NotificationPreferences {
  readonly store: LifecycleStore;
  private readonly chat: Chat;
  private readonly limits: LifecycleLimits;
  readonly guards: LifecycleGuards = {};
  private readonly listeners: LifecycleListener[] = [];

  constructor(chat: Chat, store: LifecycleStore, limits: LifecycleLimits) {
    this.chat = chat;
    this.store = store;
    this.limits = limits;
    // Pairs (SPEC 11): reacting, acknowledging and editing need the pair matched, as sending does.
    this.guards.mayInteract = (user, peer) => chat.pairs.check(user, peer);
    // Safety (SPEC 12): an edit is screened and moderated like a send, when that is configured.
    const gate = chat.safety;
    if (gate !== undefined) {
      this.guards.screenEdit = async (message, text) => {
        const checked = await gate.checkEdit(
          {
            from: message.from,
            to: message.to,
            kind: message.kind === "image" ? "image" : "text",
            image: message.image,
            links: message.links,
          },
          text,
        );
        const extra: Partial<Message> = {};
        if (checked.screened !== undefined) extra.screened = checked.screened;
        if (checked.moderated === true) extra.moderated = true;
        return { text: checked.text, extra, flagged: checked.flagged };
      };
    }
    // Webhooks (SPEC 14), through the chat's outbox at the moment of the change (the offline
    // part may replace it after start-up): durably enqueued before the request is answered.
    this.onChange({
      edited: (message) => chat.outboxEvents.emit("message.updated", { message }),
      unsent: async (message) => {
        // The recipient is not to hear of a message that is gone (SPEC 14).
        await chat.dropPendingNotifications(message.to, message.from);
        await chat.outboxEvents.emit("message.deleted", { message });
      },
    });
    chat.privacy = {
      readReceiptsOff: async (reader) => !(await this.settings(reader)).readReceipts,
      markReadQuietly: (reader, peer, upTo): Promise<ReadResult> =>
        this.store.markReadQuietly(reader, peer, upTo),
      typingOff: async (user) => !(await this.settings(user)).typing,
      presenceOff: async (users) => (await this.store.settings(users)).map((settings) => !settings.presence),
    };
  }

  onChange(listener: LifecycleListener): void {
    this.listeners.push(listener);
  }

  private publish(events: UserEvent[]): void {
    for (const { user, event, json } of events) {
      this.chat.hub.publishEvent(user, event.seq, json ?? JSON.stringify(event));
    }
  }

  private async update(
    user: string,
    id: string,
    rule: (current: Message) => MessageChange | null,
  ): Promise<{ message: Message; peer: string; changed: boolean }> {
    const result = await this.store.updateMessage(user, id, rule);
    if (result === null) throw new DuetError("not_found", "No such message in your conversations.");
    this.publish(result.events);
    return { message: result.message, peer: result.peer, changed: result.events.length > 0 };
  }

  /** PATCH /v1/messages/:id: the sender replaces the text (or the caption). */
  async edit(user: string, id: string, text: string): Promise<Message> {
    let stored = text;
    let extra: Partial<Message> | undefined;
    let flagged: FlagReason[] | null = null;
    const screen = this.guards.screenEdit;
    const check = this.guards.mayInteract;
    if (screen !== undefined || check !== undefined) {
      const current = await this.current(user, id);
      await check?.(user, current.from === user ? current.to : current.from);
      // Screened and moderated like a send, before anything is stored.
      if (screen !== undefined && current.from === user && current.kind !== "deleted") {
        const screened = await screen(current, text);
        stored = screened.text;
        extra = screened.extra;
        flagged = screened.flagged ?? null;
      }
    }
    const result = await this.update(user, id, (current) => {
      const change = editRule(current, user, stored, Date.now(), this.limits);
      if (change !== null && extra !== undefined) Object.assign(change.message, extra);
      return change;
    });
    if (result.changed) {
      for (const l of this.listeners) await l.edited?.(result.message);
      if (flagged !== null) await this.chat.flag(result.message, flagged);
    }
    return result.message;
  }

  /** Message `id` as `user` may see it now (404 when `user` has none). */
  private async current(user: string, id: string): Promise<Message> {
    let message: Message | undefined;
    const found = await this.store.updateMessage(user, id, (current) => {
      message = current;
      return null;
    });
    if (found === null || message === undefined)
      throw new DuetError("not_found", "No such message in your conversations.");
    return message;
  }

  /** The other side of the conversation holding message `id` (404 when `user` has none). */
  private async peerOf(user: string, id: string): Promise<string> {
    const message = await this.current(user, id);
    return message.from === user ? message.to : message.from;
  }

  /** DELETE /v1/messages/:id: the sender unsends; repeating it answers the tombstone. */
  async unsend(user: string, id: string): Promise<Message> {
    const result = await this.update(user, id, (current) =>
      unsendRule(current, user, Date.now(), this.limits),
    );
    if (result.changed) for (const l of this.listeners) await l.unsent?.(result.message, result.peer);
    return result.message;
  }

  /** PUT/DELETE /v1/messages/:id/reactions/:emoji, by either side. */
  async react(user: string, id: string, emoji: string, on: boolean): Promise<Message> {
    const check = this.guards.mayInteract;
    if (check === undefined) {
      return (await this.update(user, id, (current) => reactionRule(current, user, emoji, on, this.limits)))
        .message;
    }
    await check(user, await this.peerOf(user, id));
    return (await this.update(user, id, (current) => reactionRule(current, user, emoji, on, this.limits)))
      .message;
  }

  /** POST /v1/conversations/:peer/delivered and the WebSocket op `delivered`. */
  async delivered(user: string, peer: string, upTo: string): Promise<{ upTo: string | null }> {
    if (user === peer) throw new DuetError("self_message", "There is no conversation with yourself.");
    await this.guards.mayInteract?.(user, peer);
    const notify = (await this.settings(user)).deliveryReceipts;
    const result = await this.store.delivered(user, peer, upTo, notify);
    this.publish(result.events);
    return { upTo: result.upTo };
  }

  async settings(user: string): Promise<Settings> {
    // The store answers one entry per user asked; a user who never changed one has the defaults.
    return (await this.store.settings([user]))[0] ?? DEFAULT_SETTINGS;
  }

  updateSettings(user: string, patch: Partial<Settings>): Promise<Settings> {
    return this.store.updateSettings(user, patch);
  }

  async mute(user: string, peer: string, until: number | null): Promise<void> {
    if (user === peer) throw new DuetError("invalid_input", "You cannot mute yourself.");
    await this.store.mute(user, peer, until);
  }

  unmute(user: string, peer: string): Promise<void> {
    return this.store.unmute(user, peer);
  }

  async isMuted(user: string, peer: string, now = Date.now()): Promise<boolean> {
    const until = (await this.store.mutes(user)).get(peer);
    return until !== undefined && (until === null || until > now);
  }

  /** NotificationPreferences (the notifier asks before notifying). */
  async notificationsOn(user: string): Promise<boolean> {
    return (await this.settings(user)).notifications;
  }

  muted(user: string, peer: string): Promise<boolean> {
    return this.isMuted(user, peer);
  }

  async wantsNotification(user: string, peer: string, now = Date.now()): Promise<boolean> {
    const [settings, muted] = await Promise.all([this.settings(user), this.isMuted(user, peer, now)]);
    return settings.notifications && !muted;
  }

  /**
   * GET /v1/conversations: Chat's list, each entry with the peer's receipts on my messages (null
   * where the peer turned that receipt off) and whether I muted it.
   */
  async conversations(user: string, limit: number, before?: number): Promise<ConversationSummary[]> {
    const list = await this.chat.conversations(user, limit, before);
    if (list.length === 0) return list;
    const peers = list.map((c) => c.peer);
    const [receipts, peerSettings, mutes] = await Promise.all([
      this.store.receipts(user, peers),
      this.store.settings(peers),
      this.store.mutes(user),
    ]);
    const now = Date.now();
    list.forEach((c, i) => {
      const settings = peerSettings[i] ?? DEFAULT_SETTINGS;
      c.peerReadUpTo = settings.readReceipts ? (receipts[i]?.readUpTo ?? null) : null;
      c.peerDeliveredUpTo = settings.deliveryReceipts ? (receipts[i]?.deliveredUpTo ?? null) : null;
      const until = mutes.get(c.peer);
      c.muted = until !== undefined && (until === null || until > now);
    });
    return list;
  }
}

const SETTING_KEYS = ["readReceipts", "deliveryReceipts", "typing", "presence", "notifications"] as const;

/** Validates a PATCH /v1/settings body: any of the five, each a boolean, nothing else. */
export function settingsPatch(body: Record<string, unknown>): Partial<Settings> {
  const patch: Partial<Settings> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!(SETTING_KEYS as readonly string[]).includes(key))
      throw new DuetError("invalid_input", `Unknown setting "${key.slice(0, 40)}".`);
    if (typeof value !== "boolean") throw new DuetError("invalid_input", `${key} must be true or false.`);
    patch[key as keyof Settings] = value;
  }
  return patch;
}
