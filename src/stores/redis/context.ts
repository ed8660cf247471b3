import type { UserEvent } from "../../core/ports/store.js";
import type { CommandRunner } from "./command-runner.js";
import type { RedisClient } from "./connection.js";
import type { RedisKeys, UserKeys } from "./keys.js";
import type { MessageCount } from "./message-count.js";
import type { RedisOutbox } from "./redis-outbox.js";

/**
 * What every operation of the Redis store works with. The store (redis-store.ts) makes one and
 * passes it to the operations, one file per group (send.ts, read-marks.ts, blocks.ts, queries.ts):
 * a new operation is a new function of a RedisContext, and one line in the store.
 */
export interface RedisContext {
  readonly client: RedisClient;
  readonly run: CommandRunner;
  readonly keys: RedisKeys;
  /** On a cluster no script spans two slots: operations are split in idempotent steps. */
  readonly cluster: boolean;
  /** Retention, as the scripts take it: events per log, and age in ms ("0": none). */
  readonly maxEvents: string;
  readonly maxAgeMs: string;
  /** The broker's node id the send script publishes as, or "" (see RedisStoreOptions.nodeId). */
  readonly publishAs: string;
  /** What a send's script checks (store_message's 4th argument): "1" open mode, "2" matched mode. */
  readonly sendChecks: "1" | "2";
  readonly outbox: RedisOutbox;
  /** The messages-stored statistic, counted here and added to Redis once a second (message-count.ts). */
  readonly count: MessageCount;
  /** send.lua's last two arguments: "1" for message.created, the notification delay or "" (set by setSendOutboxPolicy). */
  sendOutboxArgs: [string, string];
  /** SPEC 15: the server-wide message ttl in seconds, as the send scripts take it ("0": none). */
  readonly defaultTtlS: string;
  /** Hands on the outcome of a write that committed after its caller was answered store_unavailable. */
  lateWrite(events: UserEvent[], unsure: string[]): void;
}

/** A late outcome of a write whose events are unknown: both users' connections read the store. */
export function lateUnsure(ctx: RedisContext, users: string[]): () => void {
  return () => ctx.lateWrite([], users);
}

/** The user keys a script that appends a `message` event takes, in order. */
export function messageKeys(u: UserKeys): string[] {
  return [u.seq, u.log, u.convs, u.ap];
}

/** The user keys a script that appends a `read` event takes, in order. */
export function readKeys(u: UserKeys): string[] {
  return [u.seq, u.log, u.rd];
}
