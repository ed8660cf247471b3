/**
 * The durable outbox (SPEC section 14): webhooks, scheduled notifications and Web Push sends wait
 * here, in the store, until a dispatcher (src/core/outbox/dispatcher.ts, one per process) has
 * delivered them. Every store implements this port and passes test/stores/outbox-contract.ts.
 *
 * HOW OTHER PARTS EMIT A WEBHOOK (pairs, safety, lifecycle, data):
 *
 *   // anywhere with the OutboxEvents (Chat has one: `chat.outboxEvents`)
 *   await chat.outboxEvents.emit("pair.unmatched", { users: [a, b], historyDeleted: true });
 *
 * `emit` resolves once the entry is durably stored (await it before answering the request, so a
 * 2xx implies the webhook will be sent), and costs nothing when no webhook URL is configured or
 * DUET_WEBHOOK_EVENTS leaves the type out (`outboxEvents.wants(type)` says which). `data` is the
 * payload's `data` field, any JSON. It is its own write, after yours: for a webhook that must
 * commit in the very same transaction as your write (as message.created does), build the entry
 * with `outboxEvents.entry(type, data)` and write it with your own write: SQLite through
 * `SqliteOutbox.insertInTx` inside the store's write queue, Redis with lua/outbox-steps.lua's
 * `outbox_add` in your script (the outbox keys are `RedisKeys.outbox`, all in one slot).
 *
 * Dropping a pending notification (unmatch, block, unsend, ban, erase):
 *   await chat.notifier.dropPending(user, peer?)   // see src/core/outbox/notifier.ts
 */

/** An entry waiting in the outbox (or failed). */
export interface OutboxEntry {
  /** Unique; for a webhook it is the `webhook-id`, the same on every attempt. */
  id: string;
  /** A webhook type ("message.created", ...), or an internal one ("notify", "push"). */
  type: string;
  /** The payload as JSON text (a webhook's `data`). */
  data: string;
  /** When it was enqueued (ms): a webhook's `timestamp`, and the start of its retry budget. */
  createdAt: number;
  /** Attempts made so far. */
  attempts: number;
  /** What the last attempt got ("HTTP 500", "timeout", ...), or null before the first. */
  lastError: string | null;
}

export interface NewOutboxEntry {
  id: string;
  type: string;
  data: string;
  /** When it becomes due (ms); now when absent. */
  dueAt?: number;
  /** Defaults to now. */
  createdAt?: number;
}

/** One attempt's outcome, for `Outbox.settle`. */
export type OutboxOutcome =
  | { id: string; action: "ack" }
  | { id: string; action: "reschedule"; dueAt: number; lastError: string }
  | { id: string; action: "fail"; lastError: string };

export interface OutboxDepth {
  /** Waiting or being delivered. */
  pending: number;
  failed: number;
}

/**
 * Semantics every store keeps:
 * - `enqueue` is idempotent by id while the entry is pending or failed: a retried write does not
 *   add a second entry (once delivered, a repeat is delivered again, with the same id: receivers
 *   dedupe by `webhook-id`).
 * - `claim` hands out due entries, oldest due first, and leases them for `leaseMs`: no other
 *   `claim` returns them until the lease ends (a process that died mid-delivery loses its lease,
 *   and another process delivers). Work per call is bounded by `limit`.
 * - `ack` removes; `reschedule` counts an attempt, records the error and makes the entry due at
 *   `dueAt`; `fail` counts an attempt and moves it to the failed list. All three are no-ops for an
 *   id no longer pending (another process finished it after this one's lease ran out).
 * - `settle` does what those three do, for many entries in one store write (the dispatcher
 *   collects its outcomes for a few ms, so a busy outbox costs one write per batch, not per entry).
 * - `retryFailed` makes failed entries due now with a fresh retry budget (createdAt is kept, so
 *   the webhook's timestamp and id do not change).
 * - `marks` are small values with an expiry (the notifier's per-conversation state).
 */
export interface Outbox {
  enqueue(entries: NewOutboxEntry[]): Promise<void>;
  claim(limit: number, leaseMs: number): Promise<OutboxEntry[]>;
  ack(id: string): Promise<void>;
  reschedule(id: string, dueAt: number, lastError: string): Promise<void>;
  fail(id: string, lastError: string): Promise<void>;
  /** Acks, reschedules and fails many entries in one store write, in order; same rules as the single calls. */
  settle(outcomes: OutboxOutcome[]): Promise<void>;
  /** Failed entries, oldest failure first, at most `limit`. */
  listFailed(limit: number): Promise<OutboxEntry[]>;
  /** All failed entries (ids absent) or those named; answers how many were made due again. */
  retryFailed(ids?: string[]): Promise<number>;
  depth(): Promise<OutboxDepth>;
  /** When the earliest pending entry is due (ms), or null when none is pending. */
  nextDue(): Promise<number | null>;
  getMark(key: string): Promise<string | null>;
  setMark(key: string, value: string, ttlMs: number): Promise<void>;
  /**
   * One page of every entry, pending or failed, in no particular order (for the erase's scrub,
   * src/core/outbox/erase-scrub.ts): `cursor` null first, then the answer's `next`, until `next`
   * is null. At most about `limit` entries per call; an entry may come twice.
   */
  scan(cursor: string | null, limit: number): Promise<{ entries: OutboxEntry[]; next: string | null }>;
  /** Removes these entries, pending or failed (unknown ids are skipped); answers how many went. */
  remove(ids: string[]): Promise<number>;
}

/**
 * What a store writes into the outbox as part of a send, decided once at start-up (so a send with
 * nothing subscribed writes nothing more): the message.created webhook, and a `notify` entry that
 * makes the recipient's notification due after `notifyDelayMs` (the notifier decides then).
 */
export interface SendOutboxPolicy {
  messageCreated: boolean;
  /** null: notifications off (no webhook subscribed to them and no Web Push). */
  notifyDelayMs: number | null;
}

/** A store that can write outbox entries in the same atomic step as a send. */
export interface OutboxStore {
  readonly outbox: Outbox;
  setSendOutboxPolicy(policy: SendOutboxPolicy): void;
}

/** The entry ids a send writes: derived from the message id, so a retried send cannot add a second. */
export const sendEntryIds = {
  created: (messageId: string) => `msg_${messageId}`,
  notify: (messageId: string) => `ntf_${messageId}`,
};
