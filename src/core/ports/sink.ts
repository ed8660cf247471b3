import type { ErrorCode } from "../errors.js";

export type TransportKind = "ws" | "sse" | "stream" | "poll";

/**
 * What a transport gives the shared stream mechanism: a way to write one serialised event and a
 * way to end the connection. Transports are thin adapters; ordering, resume and dedupe live in the EventStream (stream.ts).
 */
export interface Sink {
  readonly kind: TransportKind;
  /** Writes one event (JSON of a DuetEvent). `seq` is null for ephemeral events and hello. */
  write(json: string, seq: number | null): void;
  /** Ends the connection for `reason` (slow_consumer, replaced, disconnected, shutting_down). */
  close(reason: ErrorCode): void;
  /** Called by the hub's shared sweep; stream transports send their keep-alive here. */
  heartbeat?(): void;
  /**
   * Flow control for replays from the store: undefined while the connection can take more now,
   * else a promise that settles once its buffer has drained (or it closed). Live events do not
   * wait (a connection that cannot keep up with them is cut at its buffer limit); a replay does,
   * so a client resuming a long backlog over a slow link is paced rather than cut for being slow.
   */
  whenWritable?(): Promise<void> | undefined;
}
