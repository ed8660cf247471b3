/**
 * SPEC 15's disappearing messages as a service beside Chat: the per-conversation ttl (checked
 * like any action between two users, stored with its `ttl` event on both sides, published like
 * Chat's events) and the sweeper that erases expired messages (core/expiry.ts). The store stamps
 * `expiresAt` on each send and hides expired messages on every read by itself.
 */
import type { Chat } from "./chat.js";
import { DuetError } from "./errors.js";
import { ExpirySweeper, type SweeperOptions, ttlSeconds } from "./expiry.js";
import type { ExpiryStore } from "./ports/expiry.js";

export class Disappearing {
  private readonly chat: Chat;
  readonly store: ExpiryStore;
  readonly sweeper: ExpirySweeper;

  constructor(chat: Chat, store: ExpiryStore, sweeper: SweeperOptions) {
    this.chat = chat;
    this.store = store;
    this.sweeper = new ExpirySweeper(store, sweeper);
  }

  /** PUT /v1/conversations/:peer/ttl, by either side of a pair that may talk (SPEC 11). */
  async setTtl(user: string, peer: string, value: unknown): Promise<{ peer: string; seconds: number }> {
    const seconds = ttlSeconds(value);
    if (user === peer) throw new DuetError("self_message", "There is no conversation with yourself.");
    await this.chat.pairs.check(user, peer);
    const { events } = await this.store.setTtl(user, peer, seconds);
    for (const { user: owner, event, json } of events)
      this.chat.hub.publishEvent(owner, event.seq, json ?? JSON.stringify(event));
    return { peer, seconds };
  }

  start(): void {
    this.sweeper.start();
  }

  async close(): Promise<void> {
    await this.sweeper.stop();
    await this.store.close?.();
  }
}
