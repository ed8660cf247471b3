import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { DuetError } from "../../core/errors.js";
import { type OutboxStore, type SendOutboxPolicy, sendEntryIds } from "../../core/ports/outbox.js";
import type { ConversationSummary, Message, ReadEvent, SendInput, StoredEvent } from "../../core/types.js";
import type {
  EventPage,
  HistoryQuery,
  ReadResult,
  SendResult,
  Store,
  StoreOptions,
  UserEvent,
} from "../store.js";
import { RedisBans } from "./bans.js";
import {
  connect,
  createClient,
  disconnect,
  onData,
  parseRedisUrl,
  type RedisClient,
  tickBatcher,
} from "./connection.js";
import { COUNT_SHARDS, type OutboxKeys, RedisKeys, type UserKeys } from "./keys.js";
import { bodyParts, fullBody, messageOf, randomIdPart } from "./message-body.js";
import { RedisPairs } from "./pairs.js";
import { RedisOutbox } from "./redis-outbox.js";
import { type ScriptArg, type ScriptName, Scripts } from "./scripts.js";

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
   * the caller stopped waiting. The events come back marked `published`.
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
 */
export class RedisStore implements Store, OutboxStore {
  readonly name: string;
  readonly outbox: RedisOutbox;
  private readonly outboxKeys: OutboxKeys;
  /** send.lua's last two arguments: "1" for message.created, the notification delay or "". */
  private sendOutboxArgs: [string, string] = ["0", ""];
  /** Redis requests made so far: one per script or command (or MULTI). Tests count them per send. */
  roundTrips = 0;
  readonly client: RedisClient;
  private readonly keys: RedisKeys;
  private readonly scripts: Scripts;
  private readonly cluster: boolean;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  /** Calls written and not answered yet, oldest first (including those already failed by the deadline). */
  private readonly pending = new Set<Pending>();
  /** Redis answered something since the watchdog's last tick. */
  private answeredSinceTick = false;
  /** How long (ms, by the watchdog's ticks) calls have been waiting with no answer from Redis. */
  private silentMs = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private lateWrite: (events: UserEvent[], unsure: string[]) => void = () => {};
  private readonly batch: () => void;
  private readonly maxEvents: string;
  private readonly maxAgeMs: string;
  /** The broker's node id the send script publishes as, or "" (see RedisStoreOptions.nodeId). */
  private readonly publishAs: string;
  private closed = false;
  /** What a send's script checks (store_message's 4th argument): "1" open mode, "2" matched mode. */
  private readonly checks: "1" | "2";
  readonly pairs: RedisPairs;
  readonly bans: RedisBans;
  private currentEpoch: string;
  private readonly epochTimer: NodeJS.Timeout;

  constructor(client: RedisClient, epoch: string, options: RedisStoreOptions & { cluster: boolean }) {
    this.client = client;
    this.currentEpoch = epoch;
    this.cluster = options.cluster;
    this.name = options.cluster ? "redis-cluster" : "redis";
    this.keys = new RedisKeys(options.prefix);
    this.scripts = new Scripts(client);
    this.batch = tickBatcher(client);
    onData(client, () => {
      this.answeredSinceTick = true;
    });
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.maxInFlight = options.maxInFlight ?? 10_000;
    this.publishAs = options.cluster ? "" : (options.nodeId ?? "");
    this.checks = options.pairs === "matched" ? "2" : "1";
    this.maxEvents = String(Math.max(1, Math.floor(options.retention.maxEvents)));
    const age = options.retention.maxAgeMs;
    this.maxAgeMs = Number.isFinite(age) && age > 0 ? String(Math.floor(age)) : "0";
    // A Redis that comes back empty (restarted without persistence, or flushed) is a wiped store:
    // its logs start again at seq 1, and clients must see a new epoch to know their cursors are void.
    this.epochTimer = setInterval(() => this.checkEpoch(), options.epochCheckMs ?? 10_000);
    this.epochTimer.unref();
    client.on("ready", () => this.checkEpoch());
    this.pairs = new RedisPairs({
      keys: this.keys,
      cluster: this.cluster,
      retention: [this.maxEvents, this.maxAgeMs],
      script: (name, keys, args) => this.script(name, keys, args),
      call: (request) => this.call(request),
      client,
    });
    this.outboxKeys = this.keys.outbox;
    this.outbox = new RedisOutbox(client, this.outboxKeys, this.scripts, (request) => this.call(request));
    this.bans = new RedisBans({ key: this.keys.bans, call: (request) => this.call(request), client });
  }

  setSendOutboxPolicy(policy: SendOutboxPolicy): void {
    this.sendOutboxArgs = [
      policy.messageCreated ? "1" : "0",
      policy.notifyDelayMs === null ? "" : String(policy.notifyDelayMs),
    ];
  }

  /**
   * Redis Cluster: what send.lua adds to the outbox, as a step of its own in the outbox's slot (no
   * script spans two slots), made before the send is answered and idempotent by entry id.
   */
  private enqueueForSend(message: Message, body: string): Promise<void> {
    const [created, delay] = this.sendOutboxArgs;
    const entries = [];
    if (created === "1")
      entries.push({
        id: sendEntryIds.created(message.id),
        type: "message.created",
        data: `{"message":${body}}`,
      });
    if (delay !== "")
      entries.push({
        id: sendEntryIds.notify(message.id),
        type: "notify",
        data: JSON.stringify({ user: message.to, peer: message.from, id: message.id, ts: message.ts }),
        dueAt: message.ts + Number(delay),
      });
    return this.outbox.enqueue(entries);
  }

  /** Identifies the event logs; changes when the data set is wiped (noticed on reconnection or by a timer). */
  get epoch(): string {
    return this.currentEpoch;
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

  // ---- plumbing ----

  onLateWrite(handler: (events: UserEvent[], unsure: string[]) => void): void {
    this.lateWrite = handler;
  }

  /**
   * One request; any failure to get an answer is store_unavailable. A request written to Redis
   * cannot be withdrawn: under load it waits its turn, and it fails only once Redis has answered
   * nothing at all for `timeoutMs` (it hangs, or the link is dead). Then `late` gets its outcome
   * when one comes, so a write that committed anyway is not lost to open connections. While Redis
   * is silent, or when `maxInFlight` calls are waiting already, a new call is refused before
   * anything is written: that answer is true (nothing was stored).
   */
  private call<T>(request: () => Promise<T>, late?: (outcome: Late<T>) => void): Promise<T> {
    if (this.closed) return Promise.reject(new DuetError("store_unavailable", "The store is closed."));
    const now = performance.now();
    if (this.pending.size > 0) {
      if (this.pending.size >= this.maxInFlight)
        return Promise.reject(
          new DuetError("store_unavailable", `Redis: ${this.pending.size} requests waiting already.`),
        );
      if (this.silentMs >= this.timeoutMs)
        return Promise.reject(new DuetError("store_unavailable", `Redis: no answer for ${this.silentMs} ms`));
    }
    this.roundTrips++;
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { at: now, expired: false, fail: reject };
      this.pending.add(entry);
      if (this.watchdog === undefined) this.startWatchdog();
      this.batch();
      let answer: Promise<T>;
      try {
        answer = request();
      } catch (err) {
        this.pending.delete(entry);
        reject(unavailable(err));
        return;
      }
      answer.then(
        (value) => {
          this.answered(entry);
          if (!entry.expired) resolve(value);
          else late?.({ value });
        },
        (err: unknown) => {
          this.answered(entry);
          if (!entry.expired) reject(unavailable(err));
          else late?.({ error: err });
        },
      );
    });
  }

  private answered(entry: Pending): void {
    this.answeredSinceTick = true;
    this.pending.delete(entry);
  }

  /**
   * One timer for all calls, running while any waits. Silence is counted in ticks: a tick that
   * comes late because this process was busy counts as one interval, since replies that arrived
   * meanwhile are read only after the timers run (a busy process must not blame Redis).
   */
  private startWatchdog(): void {
    const every = Math.max(10, Math.floor(this.timeoutMs / 5));
    this.silentMs = 0;
    this.answeredSinceTick = false;
    this.watchdog = setInterval(() => {
      if (this.pending.size === 0) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
        this.silentMs = 0;
        return;
      }
      if (this.answeredSinceTick) {
        this.answeredSinceTick = false;
        this.silentMs = 0;
        return;
      }
      this.silentMs += every;
      if (this.silentMs < this.timeoutMs) return;
      const now = performance.now();
      for (const entry of this.pending) {
        if (now - entry.at < this.timeoutMs) break;
        if (entry.expired) continue;
        entry.expired = true;
        entry.fail(new DuetError("store_unavailable", `Redis: no answer for ${this.silentMs} ms`));
      }
    }, every);
    this.watchdog.unref();
  }

  /** A late outcome of a write whose events are unknown: both users' connections read the store. */
  private lateUnsure(users: string[]): (outcome: Late<unknown>) => void {
    return () => this.lateWrite([], users);
  }

  private script(
    name: ScriptName,
    keys: readonly string[],
    args: readonly ScriptArg[],
    late?: (outcome: Late<unknown[]>) => void,
  ): Promise<unknown[]> {
    return this.call(() => this.scripts.run(name, keys, args) as Promise<unknown[]>, late);
  }

  private messageKeys(u: UserKeys): string[] {
    return [u.seq, u.log, u.convs, u.last, u.ap];
  }

  private readKeys(u: UserKeys): string[] {
    return [u.seq, u.log, u.rd];
  }

  // ---- sending ----

  async send(input: SendInput): Promise<SendResult> {
    const parts = bodyParts(input);
    if (!this.cluster) return this.sendStandalone(input, parts);
    const conv = this.keys.conversation(input.from, input.to);
    const convKeys = [conv.meta, conv.msg, conv.ids, conv.from(input.from), conv.cmid, conv.blk, conv.pair];
    const args = messageArgs(input, parts, this.checks);
    const unsure = this.lateUnsure([input.from, input.to]);
    const r = await this.script("duetStoreMessage", convKeys, args, unsure);
    if (r[0] === "blocked") throw new DuetError("blocked");
    if (r[0] === "not_matched") throw new DuetError("not_matched");
    const duplicate = r[0] === "dup";
    const body = duplicate ? String(r[1]) : fullBody(String(r[1]), String(r[2]), parts);
    const message = JSON.parse(body) as Message;
    // Idempotent per side: on a duplicate this completes a send that was interrupted after step 1.
    const apply = (u: UserKeys, peer: string) =>
      this.script(
        "duetApplyMessage",
        this.messageKeys(u),
        [peer, message.id, message.ts, body, this.maxEvents, this.maxAgeMs, "1"],
        unsure,
      );
    const [s1, s2] = await Promise.all([
      apply(this.keys.user(input.from), input.to),
      apply(this.keys.user(input.to), input.from),
      duplicate ? null : this.countMessage(),
      // On a repeat too: the first attempt may have died before its outbox step. A no-op while the
      // entries are pending; after delivery it sends again with the same webhook-id (at least once).
      this.enqueueForSend(message, body),
    ]);
    return { message, duplicate, events: this.messageEvents(message, body, Number(s1), Number(s2)) };
  }

  /** Standalone Redis: the whole send is one script (send.lua), so one round trip. */
  private async sendStandalone(input: SendInput, parts: { head: string; tail: string }): Promise<SendResult> {
    const conv = this.keys.conversation(input.from, input.to);
    const s = this.keys.user(input.from);
    const t = this.keys.user(input.to);
    const keysAndArgs: ScriptArg[] = [
      conv.meta,
      conv.msg,
      conv.ids,
      conv.from(input.from),
      conv.cmid,
      conv.blk,
      s.seq,
      s.log,
      s.convs,
      s.last,
      s.ap,
      t.seq,
      t.log,
      t.convs,
      t.last,
      t.ap,
      this.keys.count(Math.floor(Math.random() * COUNT_SHARDS)),
      conv.pair,
      this.outboxKeys.due,
      this.outboxKeys.entries,
      ...messageArgs(input, parts, this.checks),
      this.maxEvents,
      this.maxAgeMs,
      this.publishAs,
      s.channel,
      t.channel,
      this.sendOutboxArgs[0],
      this.sendOutboxArgs[1],
    ];
    const late = (outcome: Late<unknown[]>) => {
      if ("value" in outcome) {
        const r = outcome.value;
        if (r[0] === "new") this.lateWrite(this.sendResult(r, parts, input).events, []);
        // A repeat: its first attempt may not have been published either.
        else if (r[0] === "dup") this.lateWrite([], [input.from, input.to]);
      } else this.lateWrite([], [input.from, input.to]);
    };
    const r = await this.call(
      () => this.scripts.runFlat("duetSend", keysAndArgs) as Promise<unknown[]>,
      late,
    );
    if (r[0] === "blocked") throw new DuetError("blocked");
    if (r[0] === "not_matched") throw new DuetError("not_matched");
    if (r[0] === "dup") {
      const json = String(r[1]);
      return { message: JSON.parse(json) as Message, duplicate: true, events: [], json };
    }
    return this.sendResult(r, parts, input);
  }

  /** A new message's result from duetSend's reply {"new", id, ts, sender seq, recipient seq}. */
  private sendResult(r: unknown[], parts: { head: string; tail: string }, input: SendInput): SendResult {
    const body = fullBody(String(r[1]), String(r[2]), parts);
    const message = messageOf(String(r[1]), Number(r[2]), input);
    return {
      message,
      duplicate: false,
      events: this.messageEvents(message, body, Number(r[3]), Number(r[4])),
      json: body,
    };
  }

  private countMessage(): Promise<unknown> {
    const key = this.keys.count(Math.floor(Math.random() * COUNT_SHARDS));
    return this.call(() => this.client.incr(key));
  }

  /** Both sides' `message` events, each with its JSON made from the stored body (as the log holds it). */
  private messageEvents(
    message: Message,
    body: string,
    senderSeq: number,
    recipientSeq: number,
  ): UserEvent[] {
    const events: UserEvent[] = [];
    const published = this.publishAs !== "";
    const event = (user: string, seq: number): UserEvent => ({
      user,
      event: { type: "message", seq, message },
      json: `{"type":"message","seq":${seq},"message":${body}}`,
      published,
    });
    if (senderSeq > 0) events.push(event(message.from, senderSeq));
    if (recipientSeq > 0) events.push(event(message.to, recipientSeq));
    return events;
  }

  // ---- reading and marking read ----

  async markRead(reader: string, peer: string, upTo: string): Promise<ReadResult> {
    const conv = this.keys.conversation(reader, peer);
    if (!this.cluster) {
      const keys = [
        conv.meta,
        conv.from(peer),
        ...this.readKeys(this.keys.user(reader)),
        ...this.readKeys(this.keys.user(peer)),
      ];
      const late = (outcome: Late<unknown[]>) => {
        if (!("value" in outcome)) return this.lateWrite([], [reader, peer]);
        const r = outcome.value;
        this.lateWrite(this.readEvents(reader, peer, String(r[0]) || null, Number(r[1]), Number(r[2])), []);
      };
      const r = await this.script(
        "duetMarkRead",
        keys,
        [reader, peer, upTo, this.maxEvents, this.maxAgeMs],
        late,
      );
      const marker = String(r[0]) || null;
      return { upTo: marker, events: this.readEvents(reader, peer, marker, Number(r[1]), Number(r[2])) };
    }
    const r = await this.script(
      "duetMoveMarker",
      [conv.meta, conv.from(peer)],
      [reader, upTo],
      this.lateUnsure([reader, peer]),
    );
    const marker = String(r[0]) || null;
    return { upTo: marker, events: await this.applyReads(reader, peer, marker) };
  }

  async readUnread(
    reader: string,
    peer: string,
    limit: number,
    markRead: boolean,
  ): Promise<{ messages: Message[]; events: UserEvent[] }> {
    const conv = this.keys.conversation(reader, peer);
    const convKeys = [conv.meta, conv.from(peer), conv.msg];
    if (!this.cluster) {
      const keys = [
        ...convKeys,
        ...this.readKeys(this.keys.user(reader)),
        ...this.readKeys(this.keys.user(peer)),
      ];
      const args = [reader, peer, limit, markRead ? "1" : "0", this.maxEvents, this.maxAgeMs];
      const late = (outcome: Late<unknown[]>) => {
        if (!("value" in outcome)) return this.lateWrite([], [reader, peer]);
        const r = outcome.value;
        this.lateWrite(this.readEvents(reader, peer, String(r[1]) || null, Number(r[2]), Number(r[3])), []);
      };
      const r = await this.script("duetReadUnread", keys, args, markRead ? late : undefined);
      const marker = String(r[1]) || null;
      return {
        messages: (r[0] as string[]).map((b) => JSON.parse(b) as Message),
        events: this.readEvents(reader, peer, marker, Number(r[2]), Number(r[3])),
      };
    }
    const r = await this.script(
      "duetTakeUnread",
      convKeys,
      [reader, limit, markRead ? "1" : "0"],
      markRead ? this.lateUnsure([reader, peer]) : undefined,
    );
    const messages = (r[0] as string[]).map((b) => JSON.parse(b) as Message);
    const marker = String(r[1]) || null;
    const events = markRead && messages.length > 0 ? await this.applyReads(reader, peer, marker) : [];
    return { messages, events };
  }

  /**
   * Cluster: both sides' `read` events for the marker. Run even when the marker did not move, so
   * repeating a mark-read completes one interrupted after the marker moved (apply_read appends
   * nothing a second time).
   */
  private async applyReads(reader: string, peer: string, marker: string | null): Promise<UserEvent[]> {
    if (marker === null) return [];
    const apply = (owner: string, other: string) =>
      this.script(
        "duetApplyRead",
        this.readKeys(this.keys.user(owner)),
        [other, reader, marker, this.maxEvents, this.maxAgeMs],
        this.lateUnsure([reader, peer]),
      );
    const [s1, s2] = await Promise.all([apply(reader, peer), apply(peer, reader)]);
    return this.readEvents(reader, peer, marker, Number(s1), Number(s2));
  }

  private readEvents(
    reader: string,
    peer: string,
    upTo: string | null,
    readerSeq: number,
    peerSeq: number,
  ): UserEvent[] {
    if (upTo === null) return [];
    const events: UserEvent[] = [];
    const event = (seq: number, other: string): ReadEvent => ({
      type: "read",
      seq,
      peer: other,
      reader,
      upTo,
    });
    if (readerSeq > 0) events.push({ user: reader, event: event(readerSeq, peer) });
    if (peerSeq > 0) events.push({ user: peer, event: event(peerSeq, reader) });
    return events;
  }

  async history(
    user: string,
    peer: string,
    query: HistoryQuery,
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    const conv = this.keys.conversation(user, peer);
    const r = await this.script(
      "duetHistory",
      [conv.ids, conv.msg],
      [query.after ?? "", query.before ?? "", query.limit],
    );
    const bodies = r.slice(1) as string[];
    return { messages: bodies.map((b) => JSON.parse(b) as Message), hasMore: Number(r[0]) === 1 };
  }

  async conversations(user: string, limit: number, before?: number): Promise<ConversationSummary[]> {
    const u = this.keys.user(user);
    const rows = await this.script(
      "duetConversations",
      [u.convs, u.last],
      [before === undefined ? "+inf" : String(before), limit],
    );
    const summaries: ConversationSummary[] = [];
    for (let i = 0; i < rows.length; i += 3) {
      const body = rows[i + 2];
      summaries.push({
        peer: String(rows[i]),
        unread: 0,
        lastMessage: typeof body === "string" ? (JSON.parse(body) as Message) : null,
        updatedAt: Number(rows[i + 1]),
      });
    }
    // Unread counts live with each conversation (another slot each): one pipelined batch.
    const counts = await Promise.all(
      summaries.map((s) => {
        const conv = this.keys.conversation(user, s.peer);
        return this.call(() => this.scripts.run("duetUnreadCount", [conv.meta, conv.from(s.peer)], [user]));
      }),
    );
    summaries.forEach((s, i) => {
      s.unread = Number(counts[i]);
    });
    return summaries.sort(
      (a, b) => b.updatedAt - a.updatedAt || (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0),
    );
  }

  async eventsSince(user: string, since: number, limit: number): Promise<EventPage> {
    const u = this.keys.user(user);
    const r = await this.script("duetEventsSince", [u.seq, u.log], [since, limit]);
    const events = (r.slice(2) as string[]).map((json) => JSON.parse(json) as StoredEvent);
    return { events, head: Number(r[0]), reset: Number(r[1]) === 1 };
  }

  async head(user: string): Promise<number> {
    const seq = await this.call(() => this.client.get(this.keys.user(user).seq));
    return seq === null ? 0 : Number(seq);
  }

  // ---- blocks: the conversation's `blk` set is what a send checks; the user's set is the listing ----

  block(blocker: string, blocked: string): Promise<void> {
    return this.setBlock(blocker, blocked, true);
  }

  unblock(blocker: string, blocked: string): Promise<void> {
    return this.setBlock(blocker, blocked, false);
  }

  private async setBlock(blocker: string, blocked: string, on: boolean): Promise<void> {
    const convSet = this.keys.conversation(blocker, blocked).blk;
    const userSet = this.keys.user(blocker).blocks;
    if (!this.cluster) {
      const tx = (this.client as Redis).multi();
      if (on) tx.sadd(convSet, blocker).sadd(userSet, blocked);
      else tx.srem(convSet, blocker).srem(userSet, blocked);
      const results = await this.call(() => tx.exec());
      const failed = results?.find(([err]) => err !== null);
      if (failed) throw new DuetError("store_unavailable", `Redis: ${(failed[0] as Error).message}`);
      return;
    }
    // Two slots: two idempotent writes; repeating the call repairs a half-done one.
    await Promise.all(
      on
        ? [
            this.call(() => this.client.sadd(convSet, blocker)),
            this.call(() => this.client.sadd(userSet, blocked)),
          ]
        : [
            this.call(() => this.client.srem(convSet, blocker)),
            this.call(() => this.client.srem(userSet, blocked)),
          ],
    );
  }

  async blocks(blocker: string): Promise<string[]> {
    const members = await this.call(() => this.client.smembers(this.keys.user(blocker).blocks));
    return members.sort();
  }

  async isBlocked(blocker: string, blocked: string): Promise<boolean> {
    const convSet = this.keys.conversation(blocker, blocked).blk;
    return (await this.call(() => this.client.sismember(convSet, blocker))) === 1;
  }

  async countMessages(): Promise<number> {
    const keys = Array.from({ length: COUNT_SHARDS }, (_, i) => this.keys.count(i));
    const values = this.cluster
      ? await Promise.all(keys.map((key) => this.call(() => this.client.get(key))))
      : await this.call(() => this.client.mget(keys));
    return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.ping());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.epochTimer);
    clearInterval(this.watchdog);
    await disconnect(this.client);
  }
}

/** A call that has been written to Redis and not answered yet. */
interface Pending {
  /** When it was made (performance.now()). */
  at: number;
  /** Its caller was answered store_unavailable already; a late answer goes to its `late` handler. */
  expired: boolean;
  fail: (err: DuetError) => void;
}

/** The outcome of a call that came after its caller was answered store_unavailable. */
type Late<T> = { value: T } | { error: unknown };

function unavailable(err: unknown): DuetError {
  if (err instanceof DuetError) return err;
  return new DuetError("store_unavailable", `Redis: ${(err as Error).message}`);
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

/** The arguments both send scripts begin with (duetStoreMessage, and duetSend after its keys). */
function messageArgs(input: SendInput, parts: { head: string; tail: string }, checks: "1" | "2"): string[] {
  return [
    input.from,
    input.to,
    input.clientMsgId ?? "",
    input.kind === "system" ? "0" : checks,
    randomIdPart(),
    parts.head,
    parts.tail,
  ];
}
