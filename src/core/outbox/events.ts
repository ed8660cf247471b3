import { MonotonicUlid } from "../ids.js";
import type { NewOutboxEntry, Outbox } from "../ports/outbox.js";

/**
 * Emitting webhooks (how to use it: the top of src/core/ports/outbox.ts). One per process; types
 * nobody subscribed to cost nothing, not even a store write.
 */
export class OutboxEvents {
  private readonly outbox: Outbox | null;
  private readonly subscribed: ReadonlySet<string>;
  private readonly enqueued: () => void;
  private readonly ids = new MonotonicUlid();

  /** `outbox` null: nothing is ever sent (no webhook URL). `enqueued` wakes the dispatcher. */
  constructor(outbox: Outbox | null, subscribed: Iterable<string>, enqueued: () => void = () => {}) {
    this.outbox = outbox;
    this.subscribed = new Set(outbox === null ? [] : subscribed);
    this.enqueued = enqueued;
  }

  /** Whether a webhook of this type is sent at all. */
  wants(type: string): boolean {
    return this.subscribed.has(type);
  }

  /** A new entry for `type` (a fresh `webhook-id`), for a write that enqueues it itself. */
  entry(type: string, data: unknown, id = `evt_${this.ids.next()}`): NewOutboxEntry {
    return { id, type, data: JSON.stringify(data) };
  }

  /** Durably enqueues a webhook; resolves at once when the type is not subscribed. */
  async emit(type: string, data: unknown, id?: string): Promise<void> {
    if (this.outbox === null || !this.subscribed.has(type)) return;
    await this.outbox.enqueue([this.entry(type, data, id)]);
    this.enqueued();
  }

  /** The process's outbox poke, for writes that enqueue their entries themselves. */
  notifyEnqueued(): void {
    this.enqueued();
  }
}
