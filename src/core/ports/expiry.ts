/**
 * The store port of SPEC 15's disappearing messages (stores/sqlite/expiry.ts,
 * stores/redis/expiry.ts), beside Store: a send already stamps `expiresAt` from the ttl kept
 * here (Store.send), and every read already shows an expired message as its tombstone.
 */
import type { SweepResult } from "../expiry.js";
import type { UserEvent } from "./store.js";

/**
 * The contract:
 * - `setTtl` stores the conversation's ttl (seconds; 0: none of its own) and, when it changed,
 *   appends `{"type":"ttl","seq","peer","seconds"}` to both sides' logs; a repeat of the current
 *   value appends nothing. Messages sent after it carry `expiresAt = ts + seconds * 1000`.
 * - `ttl` answers the conversation's own ttl (0 when none).
 * - `sweep` erases up to `limit` messages whose expiresAt <= now as an unsend erases them (the
 *   content gone from the message, the summaries and the events that carried it; a tombstone with
 *   `deletedAt = expiresAt` left in its place; no longer unread), oldest expiry first, and says
 *   whether more are due. Safe to run again on what it already erased. On a store shared by
 *   several processes only one of them sweeps at a time (the others' calls erase nothing).
 */
export interface ExpiryStore {
  setTtl(user: string, peer: string, seconds: number): Promise<{ seconds: number; events: UserEvent[] }>;
  ttl(user: string, peer: string): Promise<number>;
  sweep(now: number, limit: number): Promise<SweepResult>;
  /** Stops sweeping (a shared store gives up its turn so another process takes over at once). */
  close?(): Promise<void>;
}
