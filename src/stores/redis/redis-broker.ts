import { randomBytes } from "node:crypto";
import { Cluster } from "ioredis";
import type { Broker, BrokerHandler, BrokerMessage, DisconnectReason } from "../../core/ports/broker.js";
import { connect, createClient, disconnect, type RedisClient, tickBatcher } from "./connection.js";
import { RedisKeys } from "./keys.js";

export interface RedisBrokerOptions {
  /** The key prefix of the data set (default "duet:"); channels live under it. */
  prefix?: string;
  /** Identifies this process in its publications (default: random). */
  nodeId?: string;
  /** Deadline for a Redis reply (ms, default 2000). */
  timeoutMs?: number;
}

/** Quiet time after the last sharded-subscriber change before resubscribing everyone (ms). */
const CLUSTER_SETTLE_MS = 1000;
/** A disconnect's one letter on the wire (the reader maps it back). */
const DISCONNECT_CODES: Record<DisconnectReason | "disconnected", string> = {
  disconnected: "d",
  user_banned: "b",
  user_erased: "x",
};

/** Users whose last failed publication is retried, at most; and how soon (ms). */
const RETRY_LIMIT = 100_000;
const RETRY_MS = 500;

/** A random id without the framing character. */
export function newNodeId(): string {
  return randomBytes(6).toString("base64url").replace(/[|]/g, "_");
}

/**
 * Cross-process delivery over Redis sharded pub/sub (SSUBSCRIBE/SPUBLISH; Redis 7 has them on
 * standalone servers too). Each user has a channel tagged like the user's keys, so on a cluster
 * it lives on the shard that holds the user, and a process subscribes only to the users that have
 * a connection on it: a publication reaches only the processes that need it, and no shard relays
 * another's traffic. Publications are `<node>|e|<seq>|<json>`, `<node>|d` (disconnect), `<node>|b`
 * (disconnect: banned) or `<node>|s` (sync); a process drops its own. Publishing goes over a command connection
 * (one write per event-loop turn), subscribing over a separate subscriber connection.
 *
 * Contract (Broker): `publish` never throws or waits; while Redis is unreachable publications are
 * dropped (counted in `dropped`) and readers repair the gap from the store. The subscriber
 * connection queues (un)subscriptions while offline and resubscribes after a reconnection; once
 * the subscriptions are active again the process is told to resync (what was published
 * meanwhile never arrived). On a cluster, after a failover, this broker subscribes every local
 * user again itself: ioredis's sharded subscribers were seen to come back on a promoted replica
 * without some of the channels they had on the failed master.
 */
export class RedisBroker implements Broker {
  readonly nodeId: string;
  /** Publications that could not be sent. */
  dropped = 0;
  private readonly keys: RedisKeys;
  private readonly pub: RedisClient;
  private readonly sub: RedisClient;
  /** Publications of one event-loop turn leave in one write (see tickBatcher). */
  private readonly batch: () => void;
  private readonly timeoutMs: number;
  private readonly subscribed = new Map<string, Promise<void>>();
  private handler: BrokerHandler = () => {};
  private resync: () => void = () => {};
  private wasReady = false;
  private closing = false;
  private resubscribeTimer: NodeJS.Timeout | undefined;

  constructor(url: string, options: RedisBrokerOptions = {}) {
    this.keys = new RedisKeys(options.prefix);
    this.nodeId = options.nodeId ?? newNodeId();
    this.timeoutMs = options.timeoutMs ?? 2000;
    // No command timeout for publications: one written is delivered when Redis gets to it, and a
    // timeout would only send it again (under load, making it later still). A lost connection
    // fails them at once, and they are retried (below).
    this.pub = createClient(url, { name: "duet-pub", queueWhileOffline: false, autoPipelining: false });
    this.batch = tickBatcher(this.pub);
    // No command timeout either: an SSUBSCRIBE is active once Redis runs it, however late, and
    // whenSubscribed bounds the wait itself.
    this.sub = createClient(url, {
      name: "duet-sub",
      queueWhileOffline: true,
      shardedSubscribers: true,
    });
    this.sub.on("smessage", (channel: string, payload: string) => this.receive(channel, payload));
    this.sub.on("ready", () => {
      if (this.wasReady) this.resubscribed();
      this.wasReady = true;
    });
    // A cluster's sharded subscribers are replaced shard by shard (many times during a failover),
    // each time with this event rather than a new "ready".
    this.sub.on("subscribersReady", () => {
      if (this.closing) return;
      clearTimeout(this.resubscribeTimer);
      this.resubscribeTimer = setTimeout(() => void this.subscribeAllAgain(), CLUSTER_SETTLE_MS);
      this.resubscribeTimer.unref();
    });
  }

  /** Standalone: the subscriber connection is back; resync once its subscriptions are active. */
  private resubscribed(): void {
    if (this.closing || this.sub instanceof Cluster) return;
    // ioredis writes the resubscriptions before it announces "ready": a PING sent now is answered
    // after them, so once it is, every subscription is active and a read of the store misses nothing.
    this.sub.ping().then(
      () => this.resync(),
      () => this.resync(),
    );
  }

  /**
   * Cluster, once the topology has settled after a change: every local user's channel is
   * unsubscribed and subscribed again (which also clears ioredis's bookkeeping of duplicates),
   * and once Redis has acknowledged them the process resyncs.
   */
  private async subscribeAllAgain(): Promise<void> {
    if (this.closing) return;
    const acks: Promise<unknown>[] = [];
    for (const user of this.subscribed.keys()) {
      const channel = this.keys.user(user).channel;
      acks.push(this.sub.sunsubscribe(channel).catch(() => {}));
      acks.push(this.sub.ssubscribe(channel).catch(() => {}));
    }
    await Promise.all(acks);
    if (!this.closing) this.resync();
  }

  /** Connects both connections; rejects with store_unavailable when Redis cannot be reached. */
  async connect(): Promise<void> {
    await Promise.all([connect(this.pub, this.timeoutMs * 2), connect(this.sub, this.timeoutMs * 2)]);
  }

  onMessage(handler: BrokerHandler): void {
    this.handler = handler;
  }

  /**
   * Called when the subscriber connection is back after a loss: publications made meanwhile never
   * arrived, so the caller should have its sessions catch up from the store.
   */
  onResync(handler: () => void): void {
    this.resync = handler;
  }

  publish(user: string, message: BrokerMessage): void {
    const payload =
      message.kind === "event"
        ? `${this.nodeId}|e|${message.seq ?? ""}|${message.json}`
        : `${this.nodeId}|${message.kind === "sync" ? "s" : DISCONNECT_CODES[message.reason ?? "disconnected"]}`;
    const failed = () => {
      this.dropped++;
      // A lost stored event is repaired by readers only when a later one shows the gap; the last
      // of a burst has none after it. So the newest failed one per user is published again: any
      // seq past a reader's cursor sends it back to the store. Ephemeral events are let go.
      if (message.kind === "event" && message.seq !== null) this.retryLater(user, message);
    };
    try {
      this.batch();
      this.pub.spublish(this.keys.user(user).channel, payload).catch(failed);
    } catch {
      failed();
    }
  }

  private readonly retries = new Map<string, BrokerMessage>();
  private retryTimer: NodeJS.Timeout | undefined;

  private retryLater(user: string, message: BrokerMessage): void {
    const pending = this.retries.get(user);
    if (pending?.kind === "event" && message.kind === "event" && (pending.seq ?? 0) > (message.seq ?? 0))
      return;
    this.retries.delete(user);
    this.retries.set(user, message);
    // Bounded: past it the oldest are forgotten (their readers still catch up at the next event).
    if (this.retries.size > RETRY_LIMIT) this.retries.delete(this.retries.keys().next().value as string);
    if (this.retryTimer === undefined && !this.closing) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        const batch = [...this.retries];
        this.retries.clear();
        for (const [u, m] of batch) this.publish(u, m);
      }, RETRY_MS);
      this.retryTimer.unref();
    }
  }

  subscribe(user: string): void {
    if (this.subscribed.has(user)) return;
    let gaveUp = false;
    let timer: NodeJS.Timeout | undefined;
    const ready = new Promise<void>((resolve) => {
      // Waiting is bounded (a stream must not hang on a busy Redis); a subscription acknowledged
      // only after that may have missed what was published while the stream read the store, so
      // the user's local connections read it again then.
      timer = setTimeout(() => {
        gaveUp = true;
        resolve();
      }, this.timeoutMs);
      timer.unref();
      this.sub.ssubscribe(this.keys.user(user).channel).then(
        () => {
          clearTimeout(timer);
          resolve();
          if (gaveUp && this.subscribed.get(user) === ready) this.handler(user, { kind: "sync" });
        },
        () => {
          // The connection was lost: its "ready" resyncs every stream once subscriptions are back.
          clearTimeout(timer);
          resolve();
        },
      );
    });
    this.subscribed.set(user, ready);
  }

  /**
   * Resolves once Redis has acknowledged the subscription of `user` (at once if there is none),
   * or after the deadline: a caller that reads the store after this cannot miss a publication in
   * between (past the deadline, the user's connections are told to read again once it is).
   */
  whenSubscribed(user: string): Promise<void> {
    return this.subscribed.get(user) ?? Promise.resolve();
  }

  unsubscribe(user: string): void {
    if (!this.subscribed.delete(user)) return;
    this.sub.sunsubscribe(this.keys.user(user).channel).catch(() => {});
  }

  private receive(channel: string, payload: string): void {
    const user = this.keys.channelUser(channel);
    // A message can still arrive just after the last local connection of its user went away.
    if (user === null || !this.subscribed.has(user)) return;
    const nodeEnd = payload.indexOf("|");
    if (nodeEnd < 0 || payload.slice(0, nodeEnd) === this.nodeId) return;
    const kind = payload[nodeEnd + 1];
    if (kind === "s") {
      this.handler(user, { kind: "sync" });
      return;
    }
    if (kind === "d" || kind === "b" || kind === "x") {
      const reason = kind === "b" ? "user_banned" : kind === "x" ? "user_erased" : undefined;
      this.handler(user, reason === undefined ? { kind: "disconnect" } : { kind: "disconnect", reason });
      return;
    }
    const seqEnd = payload.indexOf("|", nodeEnd + 3);
    if (kind !== "e" || seqEnd < 0) return;
    const seqText = payload.slice(nodeEnd + 3, seqEnd);
    const seq = seqText === "" ? null : Number(seqText);
    this.handler(user, { kind: "event", seq, json: payload.slice(seqEnd + 1) });
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.resubscribeTimer);
    this.subscribed.clear();
    await Promise.all([disconnect(this.pub), disconnect(this.sub)]);
  }
}

/** A RedisBroker, connected. */
export async function openRedisBroker(url: string, options: RedisBrokerOptions = {}): Promise<RedisBroker> {
  const broker = new RedisBroker(url, options);
  try {
    await broker.connect();
  } catch (err) {
    await broker.close();
    throw err;
  }
  return broker;
}
