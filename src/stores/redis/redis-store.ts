import { randomUUID } from "node:crypto";
import { DuetError } from "../../core/errors.js";
import type { OutboxStore, SendOutboxPolicy } from "../../core/ports/outbox.js";
import type {
  EventPage,
  HistoryQuery,
  ReadResult,
  SendResult,
  Store,
  StoreOptions,
  UserEvent,
} from "../../core/ports/store.js";
import type { ConversationSummary, Message, SendInput } from "../../core/types.js";
import { RedisBans } from "./bans.js";
import { isBlocked, listBlocks, setBlock } from "./blocks.js";
import { CommandRunner } from "./command-runner.js";
import { connect, createClient, disconnect, parseRedisUrl, type RedisClient } from "./connection.js";
import type { RedisContext } from "./context.js";
import { RedisKeys } from "./keys.js";
import { MessageCount } from "./message-count.js";
import { RedisPairs } from "./pairs.js";
import { conversations, eventsSince, head, history } from "./queries.js";
import { markRead, readUnread } from "./read-marks.js";
import { RedisOutbox } from "./redis-outbox.js";
import { RedisPush } from "./redis-push.js";
import { RedisReports } from "./reports.js";
import { sendMessage } from "./send.js";

export interface RedisStoreOptions extends StoreOptions {
  /** Prepended to every key (default "duet:"), so several data sets can share one Redis. */
  prefix?: string;
  /**
   * A Redis call fails with store_unavailable once it has waited this long while Redis answered
   * nothing at all for as long (a hung or unreachable Redis); while Redis keeps answering, a call
   * waits its turn (default 2000).
   */
  timeoutMs?: number;
  /**
   * Calls waiting for Redis, at most: past it new calls are refused at once with store_unavailable
   * (nothing written, so nothing stored) rather than queued behind the others (default 10,000).
   */
  maxInFlight?: number;
  /** How often to check that the data set was not wiped under us (ms, default 10 s). */
  epochCheckMs?: number;
  /**
   * The id of this process's RedisBroker (same prefix). When given, on standalone Redis the send
   * script publishes both `message` events on the users' channels itself, as that broker would,
   * in the same step as the commit: no publication round trips after a send, and none lost if
   * the caller stopped waiting. The events come back `carriedBy: "store"`.
   */
  nodeId?: string;
}

/**
 * Redis or Redis Cluster (see Store for the contract, keys.ts for the schema). Every operation that
 * must be atomic is one Lua script. On standalone Redis a send, a mark-read or a read-and-mark is
 * one script over all its keys: one round trip. On a cluster no script spans two slots: a send is
 * step 1 in the conversation's slot, then steps 2 and 3 (one per user, in parallel), each
 * idempotent by message id, so a retry after a crash between steps (the client's clientMsgId
 * retry) completes the send; on such a retry `duplicate` is true and `events` holds whatever the
 * retry had to append. Marking read works the same way (marker, then each side's `read` event).
 *
 * Layout: this class holds the epoch and hands each operation the store's RedisContext; the
 * operations live one group per file (send.ts, read-marks.ts, blocks.ts, queries.ts), requests go
 * through command-runner.ts (deadlines, limits, late outcomes), and replies.ts decodes the scripts'
 * replies. A new operation is a function in its group's file (or a new one) and one method here.
 */
export class RedisStore implements Store, OutboxStore {
  readonly name: string;
  readonly outbox: RedisOutbox;
  readonly push: RedisPush;
  readonly client: RedisClient;
  private readonly run: CommandRunner;
  private readonly ctx: RedisContext;
  private readonly keys: RedisKeys;
  private lateWrite: (events: UserEvent[], unsure: string[]) => void = () => {};
  private closed = false;
  readonly pairs: RedisPairs;
  readonly bans: RedisBans;
  readonly reports: RedisReports;
  private currentEpoch: string;
  private readonly epochTimer: NodeJS.Timeout;

  constructor(client: RedisClient, epoch: string, options: RedisStoreOptions & { cluster: boolean }) {
    this.client = client;
    this.currentEpoch = epoch;
    this.name = options.cluster ? "redis-cluster" : "redis";
    this.keys = new RedisKeys(options.prefix);
    this.run = new CommandRunner(client, {
      timeoutMs: options.timeoutMs ?? 2000,
      maxInFlight: options.maxInFlight ?? 10_000,
    });
    const age = options.retention.maxAgeMs;
    this.outbox = new RedisOutbox(client, this.keys.outbox, this.run.scripts, (request) =>
      this.run.call(request),
    );
    this.ctx = {
      client,
      run: this.run,
      keys: this.keys,
      cluster: options.cluster,
      maxEvents: String(Math.max(1, Math.floor(options.retention.maxEvents))),
      maxAgeMs: Number.isFinite(age) && age > 0 ? String(Math.floor(age)) : "0",
      publishAs: options.cluster ? "" : (options.nodeId ?? ""),
      sendChecks: options.pairs === "matched" ? "2" : "1",
      outbox: this.outbox,
      count: new MessageCount(client, this.run, this.keys),
      sendOutboxArgs: ["0", ""],
      defaultTtlS: String(Math.max(0, Math.floor(options.messageTtlS ?? 0))),
      lateWrite: (events, unsure) => this.lateWrite(events, unsure),
    };
    // A Redis that comes back empty (restarted without persistence, or flushed) is a wiped store:
    // its logs start again at seq 1, and clients must see a new epoch to know their cursors are void.
    this.epochTimer = setInterval(() => this.checkEpoch(), options.epochCheckMs ?? 10_000);
    this.epochTimer.unref();
    client.on("ready", () => this.checkEpoch());
    this.pairs = new RedisPairs({
      keys: this.keys,
      cluster: options.cluster,
      retention: [this.ctx.maxEvents, this.ctx.maxAgeMs],
      script: (name, keys, args) => this.run.script(name, keys, args),
      call: (request) => this.run.call(request),
      client,
    });
    this.bans = new RedisBans({ key: this.keys.bans, call: (request) => this.run.call(request), client });
    this.reports = new RedisReports({
      prefix: this.keys.prefix,
      messages: (a, b) => this.keys.conversation(a, b).msg,
      script: (name, keys, args) => this.run.script(name, keys, args),
      call: (request) => this.run.call(request),
      client,
    });
    this.push = new RedisPush(client, this.keys, this.run.scripts, (request) => this.run.call(request));
  }

  setSendOutboxPolicy(policy: SendOutboxPolicy): void {
    this.ctx.sendOutboxArgs = [
      policy.messageCreated ? "1" : "0",
      policy.notifyDelayMs === null ? "" : String(policy.notifyDelayMs),
    ];
  }

  /** Identifies the event logs; changes when the data set is wiped (noticed on reconnection or by a timer). */
  get epoch(): string {
    return this.currentEpoch;
  }

  /**
   * Redis requests made so far: one per script or command (or MULTI). Tests count them per send.
   * The message count's background flushes (message-count.ts, once a second) are left out.
   */
  get roundTrips(): number {
    return this.run.roundTrips - this.ctx.count.flushes;
  }

  private checkEpoch(): void {
    if (this.closed) return;
    const candidate = randomUUID();
    this.client
      .set(this.keys.epoch, candidate, "NX", "GET")
      .then((found) => {
        this.currentEpoch = found ?? candidate;
      })
      .catch(() => {});
  }

  onLateWrite(handler: (events: UserEvent[], unsure: string[]) => void): void {
    this.lateWrite = handler;
  }

  // Each operation lives in the file of its group, as a function of the store's RedisContext.

  send(input: SendInput): Promise<SendResult> {
    return sendMessage(this.ctx, input);
  }

  markRead(reader: string, peer: string, upTo: string): Promise<ReadResult> {
    return markRead(this.ctx, reader, peer, upTo);
  }

  readUnread(
    reader: string,
    peer: string,
    limit: number,
    markAsRead: boolean,
  ): Promise<{ messages: Message[]; events: UserEvent[] }> {
    return readUnread(this.ctx, reader, peer, limit, markAsRead);
  }

  history(
    user: string,
    peer: string,
    query: HistoryQuery,
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    return history(this.ctx, user, peer, query);
  }

  conversations(user: string, limit: number, before?: number): Promise<ConversationSummary[]> {
    return conversations(this.ctx, user, limit, before);
  }

  eventsSince(user: string, since: number, limit: number): Promise<EventPage> {
    return eventsSince(this.ctx, user, since, limit);
  }

  head(user: string): Promise<number> {
    return head(this.ctx, user);
  }

  block(blocker: string, blocked: string): Promise<void> {
    return setBlock(this.ctx, blocker, blocked, true);
  }

  unblock(blocker: string, blocked: string): Promise<void> {
    return setBlock(this.ctx, blocker, blocked, false);
  }

  blocks(blocker: string): Promise<string[]> {
    return listBlocks(this.ctx, blocker);
  }

  isBlocked(blocker: string, blocked: string): Promise<boolean> {
    return isBlocked(this.ctx, blocker, blocked);
  }

  countMessages(): Promise<number> {
    return this.ctx.count.total(this.ctx.cluster);
  }

  async ping(): Promise<void> {
    await this.run.call(() => this.client.ping());
  }

  /** For the lifecycle module (lifecycle.ts), which works with the same context as the operations here. */
  internals(): RedisContext {
    return this.ctx;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.epochTimer);
    await this.ctx.count.close();
    this.run.close();
    await disconnect(this.client);
  }
}

/**
 * Opens a Redis store: `redis://host:port` or `redis-cluster://h1:p1,h2:p2`. Connects, then reads
 * (or creates, on first use of this data set) the epoch. Rejects with store_unavailable if Redis
 * cannot be reached within the timeout.
 */
export async function openRedisStore(url: string, options: RedisStoreOptions): Promise<RedisStore> {
  const cluster = parseRedisUrl(url).cluster;
  const timeoutMs = options.timeoutMs ?? 2000;
  // No per-command timeout in ioredis: the store's own deadline (see RedisStore.call) keeps a late
  // answer, where ioredis would discard it.
  const client = createClient(url, { name: "duet-store", queueWhileOffline: false, autoPipelining: false });
  await connect(client, Math.max(timeoutMs, 5000));
  const keys = new RedisKeys(options.prefix);
  const candidate = randomUUID();
  let previous: string | null;
  try {
    previous = await client.set(keys.epoch, candidate, "NX", "GET");
  } catch (err) {
    client.disconnect();
    throw new DuetError("store_unavailable", `Redis: ${(err as Error).message}`);
  }
  return new RedisStore(client, previous ?? candidate, { ...options, cluster });
}
