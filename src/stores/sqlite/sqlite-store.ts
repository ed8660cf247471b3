import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { DuetError } from "../../core/errors.js";
import { expiredView } from "../../core/expiry.js";
import { MonotonicUlid } from "../../core/ids.js";
import { type OutboxStore, type SendOutboxPolicy, sendEntryIds } from "../../core/ports/outbox.js";
import type {
  EventPage,
  HistoryQuery,
  ReadResult,
  SendResult,
  Store,
  StoreOptions,
  UserEvent,
} from "../../core/ports/store.js";
import type { ConversationSummary, Message, ReadEvent, SendInput, StoredEvent } from "../../core/types.js";
import { SqliteBans } from "./bans.js";
import { EventIndex } from "./event-index.js";
import { EXPIRY_SCHEMA } from "./expiry-schema.js";
import { claimFile } from "./file-owner.js";
import { LIFECYCLE_SCHEMA } from "./lifecycle-schema.js";
import { SqlitePairs } from "./pairs.js";
import { SqliteReports } from "./reports.js";
import { conversationKey, DROPPED_INDEXES, MIGRATIONS, SCHEMA } from "./schema.js";
import { SqliteOutbox } from "./sqlite-outbox.js";
import { SqlitePush } from "./sqlite-push.js";
import { WalCheckpointer } from "./wal-checkpointer.js";

/** What SqliteStore.internals() hands the lifecycle module. */
export interface SqliteInternals {
  db: Database.Database;
  enqueue<T>(run: () => T): Promise<T>;
  read<T>(run: () => T): Promise<T>;
  writeSummaries(): void;
  /** The seq the user's next event gets; call appended() with its rid once it is inserted. */
  nextSeq(user: string): number;
  appended(user: string, seq: number, rid: number | bigint): void;
  /** Each user's seq -> rid map (the events table has no index of its own on users). */
  events: EventIndex;
  /** Inside a write: Store.markRead, the peer's `read` event only with `notifyPeer`. */
  markRead(reader: string, peer: string, upTo: string, notifyPeer: boolean): ReadResult;
  /** Tells the checkpoint thread the file was written. */
  wrote(): void;
  /** SPEC 15: each conversation's own ttl (s), as the send path reads it (see SqliteStore.ttls). */
  ttls: Map<string, number>;
}

export interface SqliteStoreOptions extends StoreOptions {
  /** A file path, or ":memory:". */
  path: string;
  /** `normal` survives a crash of the process (WAL); `full` also an OS crash, at an fsync per batch. */
  synchronous?: "normal" | "full";
}

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** Set inside the transaction, settled after its commit. */
  failed: boolean;
  value: unknown;
}

type Row = Record<string, unknown>;

/**
 * The embedded store (see Store for the contract). One process owns the file (claimFile), which
 * lets it keep each user's head seq in memory. Writes queued in one event-loop turn commit in
 * one transaction: one WAL append for a whole burst of sends. A worker thread checkpoints the
 * WAL (WalCheckpointer), so copying it into the file never holds the event loop.
 */
export class SqliteStore implements Store, OutboxStore {
  readonly name = "sqlite";
  readonly epoch: string;
  readonly db: Database.Database;
  readonly pairs: SqlitePairs;
  readonly outbox: SqliteOutbox;
  readonly push: SqlitePush;
  /** What a send adds to the outbox in its own transaction (nothing unless configured). */
  private sendPolicy: SendOutboxPolicy = { messageCreated: false, notifyDelayMs: null };
  readonly bans: SqliteBans;
  readonly reports: SqliteReports;
  /** The lock that makes this process the file's owner; null for ":memory:". */
  private readonly owner: Database.Database | null = null;
  private readonly checkpointer: WalCheckpointer | null = null;
  private readonly options: SqliteStoreOptions;
  private readonly ids = new MonotonicUlid();
  private readonly heads = new Map<string, number>();
  /** Each user's events by seq (see EventIndex: in memory, not an on-disk index). */
  readonly events: EventIndex;
  /**
   * SPEC 15: every conversation's own ttl (s), loaded at start and kept by the expiry module: the
   * file has one owner, so a send reads a Map (nothing at all while no conversation has one).
   */
  private readonly ttls = new Map<string, number>();
  /** The server-wide ttl (s) for conversations with none of their own; 0: none. */
  private readonly defaultTtlS: number;
  private readonly touched = new Set<string>();
  /**
   * Conversation summaries a batch moved, keyed by conversation, the batch's last message
   * winning: written once per batch at its end instead of twice per message. A message moves
   * both sides' rows to itself, so one entry writes both.
   */
  private readonly summaries = new Map<string, [user: string, peer: string, ts: number, lastId: string]>();
  /** The four shapes of a history query (before/after each present or not), prepared once. */
  private readonly historyStatements = new Map<string, Database.Statement>();
  private queue: PendingWrite[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly stmt;
  private readonly runBatch: (batch: PendingWrite[]) => void;

  constructor(options: SqliteStoreOptions) {
    this.options = options;
    const onDisk = options.path !== ":memory:";
    if (onDisk) {
      mkdirSync(dirname(options.path), { recursive: true });
      this.owner = claimFile(options.path);
    }
    this.db = new Database(options.path);
    // Only takes effect on a new file. Most of a batch's cost is the B-tree pages its random
    // index inserts dirty, each written whole to the WAL: 8 KiB pages measured ~20% cheaper
    // per message than 4 KiB ones (bench/store-micro.ts), 1-2 KiB ones dearer.
    this.db.pragma("page_size = 8192");
    this.db.pragma("journal_mode = WAL");
    const synchronous = options.synchronous === "full" ? "FULL" : "NORMAL";
    this.db.pragma(`synchronous = ${synchronous}`);
    this.db.pragma("cache_size = -65536");
    // Freed space is zeroed, not left with old rows in it: an unsent or edited message's text
    // (SPEC 13) must not survive in free space, freelist pages, or the stale copies of cells a
    // page split leaves behind. Costs a memset per freed cell; no extra page writes on the send path.
    this.db.pragma("secure_delete = ON");
    this.db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    this.db.exec(SCHEMA);
    this.db.exec(LIFECYCLE_SCHEMA);
    this.db.exec(EXPIRY_SCHEMA);
    const db = this.db;
    for (const m of MIGRATIONS) {
      const columns = db.prepare(`PRAGMA table_info(${m.table})`).all() as Row[];
      if (!columns.some((c) => c.name === m.column)) db.exec(m.sql);
    }
    for (const index of DROPPED_INDEXES) db.exec(`DROP INDEX IF EXISTS ${index}`);
    this.events = new EventIndex(db);
    if (onDisk) this.checkpointer = new WalCheckpointer(db, { path: options.path, synchronous });
    this.loadTtls();
    this.defaultTtlS = Math.max(0, Math.floor(options.messageTtlS ?? 0));
    const epochRow = db.prepare("SELECT value FROM meta WHERE key = 'epoch'").get() as Row | undefined;
    if (epochRow) {
      this.epoch = String(epochRow.value);
    } else {
      this.epoch = randomUUID();
      db.prepare("INSERT INTO meta (key, value) VALUES ('epoch', ?)").run(this.epoch);
    }
    this.stmt = {
      byClientId: db.prepare("SELECT body FROM messages WHERE sender = ? AND client_msg_id = ?").pluck(),
      isBlocked: db.prepare("SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?").pluck(),
      insertMessage: db.prepare(
        `INSERT INTO messages (id, conv, sender, ts, client_msg_id, body) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
      ),
      insertEvent: db.prepare("INSERT INTO events (user, seq, ts, body, msg) VALUES (?, ?, ?, ?, ?)"),
      forgetTtl: db.prepare("DELETE FROM ttls WHERE conv = ?"),
      forgetExpiring: db.prepare("DELETE FROM expiring WHERE conv = ?"),
      insertExpiring: db.prepare(
        "INSERT INTO expiring (conv, id, sender, expires_at, rid) VALUES (?, ?, ?, ?, ?)",
      ),
      floor: db.prepare("SELECT floor FROM logs WHERE user = ?").pluck(),
      touchConversation: db.prepare(
        `INSERT INTO conversations (user, peer, updated_at, last_id) VALUES (?, ?, ?, ?)
         ON CONFLICT (user, peer) DO UPDATE SET updated_at = excluded.updated_at, last_id = excluded.last_id`,
      ),
      readMarker: db.prepare("SELECT read_upto FROM conversations WHERE user = ? AND peer = ?").pluck(),
      setReadMarker: db.prepare("UPDATE conversations SET read_upto = ? WHERE user = ? AND peer = ?"),
      lastFromPeerUpTo: db
        .prepare("SELECT id FROM messages WHERE conv = ? AND sender = ? AND id <= ? ORDER BY id DESC LIMIT 1")
        .pluck(),
      // Unsent messages (their ids in `unsent`) are not unread any more, nor are expired ones
      // (SPEC 15): erased ones are in `unsent` too, those the sweeper has not reached yet are the
      // rows of `expiring` due by @now (a message is never in both).
      unread: db.prepare(
        `SELECT body FROM messages WHERE conv = @conv AND sender = @sender AND id > @after AND id NOT IN
         (SELECT id FROM unsent WHERE conv = @conv AND sender = @sender AND id > @after) AND id NOT IN
         (SELECT id FROM expiring WHERE conv = @conv AND id > @after AND expires_at <= @now)
         ORDER BY id LIMIT @limit`,
      ),
      unreadCount: db
        .prepare(
          `SELECT (SELECT count(*) FROM messages WHERE conv = @conv AND sender = @sender AND id > @after)
           - (SELECT count(*) FROM unsent WHERE conv = @conv AND sender = @sender AND id > @after)
           - (SELECT count(*) FROM expiring WHERE conv = @conv AND id > @after AND sender = @sender
              AND expires_at <= @now)`,
        )
        .pluck(),
      messageBody: db.prepare("SELECT body FROM messages WHERE conv = ? AND id = ?").pluck(),
      conversations: db.prepare(
        `SELECT peer, updated_at, last_id, read_upto FROM conversations
         WHERE user = ? AND updated_at < ? ORDER BY updated_at DESC, last_id DESC LIMIT ?`,
      ),
      // The rids come from the user's EventIndex, in seq order (a JSON array).
      eventsSince: db
        .prepare(
          `SELECT e.seq, e.body, m.body FROM json_each(?) j CROSS JOIN events e ON e.rid = j.value
           LEFT JOIN messages m ON m.rid = e.msg ORDER BY j.key`,
        )
        .raw(),
      deleteEvents: db.prepare("DELETE FROM events WHERE rid IN (SELECT value FROM json_each(?))"),
      setFloor: db.prepare(
        `INSERT INTO logs (user, floor) VALUES (?, ?)
         ON CONFLICT (user) DO UPDATE SET floor = max(floor, excluded.floor)`,
      ),
      block: db.prepare("INSERT OR IGNORE INTO blocks (blocker, blocked) VALUES (?, ?)"),
      unblock: db.prepare("DELETE FROM blocks WHERE blocker = ? AND blocked = ?"),
      blocks: db.prepare("SELECT blocked FROM blocks WHERE blocker = ? ORDER BY blocked").pluck(),
      countMessages: db.prepare("SELECT count(*) FROM messages").pluck(),
      // Events are appended in time order, so the expired ones are a prefix in rid order.
      lastExpired: db
        .prepare("SELECT max(rid) FROM (SELECT rid, ts FROM events ORDER BY rid LIMIT 10000) WHERE ts < ?")
        .pluck(),
      floorsUpToRid: db.prepare("SELECT user, max(seq) FROM events WHERE rid <= ? GROUP BY user").raw(),
      trimUpToRid: db.prepare("DELETE FROM events WHERE rid <= ?"),
    };
    this.pairs = new SqlitePairs(this, options.pairs ?? "open");
    this.bans = new SqliteBans(this);
    this.reports = new SqliteReports(this);
    this.runBatch = db.transaction((batch: PendingWrite[]) => {
      for (const item of batch) {
        try {
          item.value = item.run();
        } catch (err) {
          // A DuetError is a refusal decided before any write of that item (blocked, ...).
          if (!(err instanceof DuetError)) throw err;
          item.failed = true;
          item.value = err;
        }
      }
      this.writeSummaries();
      this.trimTouched();
    });
    this.outbox = new SqliteOutbox(
      db,
      (run) => this.enqueue(run),
      (run) => this.read(run),
    );
    this.push = new SqlitePush(
      db,
      (run) => this.enqueue(run),
      (run) => this.read(run),
    );
  }

  /** Inside a write: the conversation's ttl and expiring rows go (its messages are being erased). */
  forgetExpiry(conv: string): void {
    this.stmt.forgetTtl.run(conv);
    this.stmt.forgetExpiring.run(conv);
    this.ttls.delete(conv);
  }

  private loadTtls(): void {
    this.ttls.clear();
    for (const [conv, seconds] of this.db.prepare("SELECT conv, seconds FROM ttls").raw().all() as [
      string,
      number,
    ][])
      this.ttls.set(conv, seconds);
  }

  setSendOutboxPolicy(policy: SendOutboxPolicy): void {
    this.sendPolicy = policy;
  }

  // ---- writes: queued, one transaction per event-loop turn ----

  /** Internal (the pairs and bans modules share the write queue): `run` in the next write transaction. */
  enqueue<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new DuetError("store_unavailable", "The store is closed."));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        run,
        resolve: resolve as (value: unknown) => void,
        reject,
        failed: false,
        value: undefined,
      });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    try {
      this.runBatch(batch);
    } catch (err) {
      // The transaction rolled back: cached heads may count events that were not stored.
      this.heads.clear();
      this.touched.clear();
      this.summaries.clear();
      try {
        this.loadTtls(); // a ttl change in the batch was rolled back with it
        this.events.load(); // and the batch's events with it
      } catch {
        // The file cannot be read either: the next batch fails the same way.
      }
      const failure = new DuetError(
        "store_unavailable",
        `The store failed to write: ${(err as Error).message}`,
      );
      for (const item of batch) item.reject(failure);
      return;
    }
    this.checkpointer?.wrote();
    for (const item of batch) {
      if (item.failed) item.reject(item.value);
      else item.resolve(item.value);
    }
  }

  /** Writes the conversation summaries moved so far in this batch. */
  writeSummaries(): void {
    if (this.summaries.size === 0) return;
    for (const [user, peer, ts, lastId] of this.summaries.values()) {
      this.stmt.touchConversation.run(user, peer, ts, lastId);
      this.stmt.touchConversation.run(peer, user, ts, lastId);
    }
    this.summaries.clear();
  }

  private head_(user: string): number {
    let head = this.heads.get(user);
    if (head === undefined) {
      head = this.events.last(user) ?? (this.stmt.floor.get(user) as number | undefined) ?? 0;
      this.heads.set(user, head);
    }
    return head;
  }

  /**
   * Appends one event to `user`'s log, stored with its JSON, which is handed on with it so
   * nothing downstream serialises it again. Message events go through appendMessage.
   */
  append(user: string, ts: number, make: (seq: number) => StoredEvent): UserEvent {
    const seq = this.head_(user) + 1;
    const event = make(seq);
    const text = JSON.stringify(event);
    this.events.add(user, seq, Number(this.stmt.insertEvent.run(user, seq, ts, text, null).lastInsertRowid));
    this.heads.set(user, seq);
    this.touched.add(user);
    return { user, event, json: text };
  }

  /** append() for a message event: no closures, and the body is not stored again (one per side per send). */
  private appendMessage(user: string, message: Message, body: string, rid: number | bigint): UserEvent {
    const seq = this.head_(user) + 1;
    // The same key order JSON.stringify gives, around the body serialised once by sendNow.
    const json = `{"type":"message","seq":${seq},"message":${body}}`;
    // The body is rebuilt from the message row on replay (eventsSince).
    this.events.add(
      user,
      seq,
      Number(this.stmt.insertEvent.run(user, seq, message.ts, "", rid).lastInsertRowid),
    );
    this.heads.set(user, seq);
    this.touched.add(user);
    return { user, event: { type: "message", seq, message }, json };
  }

  /** Count-based retention, inside the write transaction: only users just written to. */
  private trimTouched(): void {
    const max = this.options.retention.maxEvents;
    for (const user of this.touched) {
      const head = this.heads.get(user) ?? 0;
      // Trim in steps of 1/8 of the window so a busy user is not trimmed on every write.
      if (head <= max + Math.max(1, max >> 3)) continue;
      const floor = (this.stmt.floor.get(user) as number | undefined) ?? 0;
      if (head - floor <= max + Math.max(1, max >> 3)) continue;
      const upTo = head - max;
      this.stmt.deleteEvents.run(JSON.stringify(this.events.dropUpTo(user, upTo)));
      this.stmt.setFloor.run(user, upTo);
    }
    this.touched.clear();
  }

  /** Age-based retention, run by the server's maintenance timer. */
  trimByAge(now = Date.now()): void {
    const cutoff = now - this.options.retention.maxAgeMs;
    // In chunks of at most 10,000 rows, so one sweep never holds the writer for long.
    for (;;) {
      const rid = this.stmt.lastExpired.get(cutoff) as number | null;
      if (rid === null) return;
      const floors = this.db.transaction(() => {
        const rows = this.stmt.floorsUpToRid.all(rid) as [string, number][];
        for (const [user, floor] of rows) this.stmt.setFloor.run(user, floor);
        this.stmt.trimUpToRid.run(rid);
        return rows;
      })();
      // Seqs rise with rids within a log: what went is each log's prefix up to that floor.
      for (const [user, floor] of floors) this.events.dropUpTo(user, floor);
      this.checkpointer?.wrote();
    }
  }

  send(input: SendInput): Promise<SendResult> {
    return this.enqueue(() => this.sendNow(input));
  }

  /** The sender's earlier message with this send's clientMsgId, as a repeat answers it; null: none. */
  private earlierSend(input: SendInput): SendResult | null {
    if (input.clientMsgId === null) return null;
    const body = this.stmt.byClientId.get(input.from, input.clientMsgId) as string | undefined;
    if (body === undefined) return null;
    const earlier = JSON.parse(body) as Message;
    const now = expiredView(earlier, Date.now());
    return now === earlier
      ? { message: earlier, duplicate: true, events: [], json: body }
      : { message: now, duplicate: true, events: [] };
  }

  /**
   * A repeated clientMsgId is found by the insert itself (the unique `(sender, client_msg_id)`
   * index: ON CONFLICT DO NOTHING), not by a lookup before every send; the earlier message is
   * read only then. A repeat still answers with the original even when the pair has been
   * blocked or unmatched since (the gate's refusal is checked against it).
   */
  private sendNow(input: SendInput): SendResult {
    if (input.kind !== "system") {
      try {
        this.pairs.sendGate(input.from, input.to);
      } catch (err) {
        const earlier = this.earlierSend(input);
        if (earlier !== null) return earlier;
        throw err;
      }
    }
    const ts = Date.now();
    const message: Message = {
      id: this.ids.next(ts),
      from: input.from,
      to: input.to,
      ts,
      kind: input.kind,
      text: input.text,
      image: input.image,
      links: input.links,
      clientMsgId: input.clientMsgId,
    };
    // Only messages the safety checks touched carry these: the rest do not grow.
    if (input.screened !== undefined) message.screened = input.screened;
    if (input.moderated === true) message.moderated = true;
    const conv = conversationKey(input.from, input.to);
    // SPEC 15: only a message that expires carries expiresAt (last, as on Redis).
    const ttl = this.ttls.size === 0 ? this.defaultTtlS : (this.ttls.get(conv) ?? this.defaultTtlS);
    if (ttl > 0) message.expiresAt = ts + ttl * 1000;
    const body = JSON.stringify(message);
    const inserted = this.stmt.insertMessage.run(message.id, conv, input.from, ts, input.clientMsgId, body);
    if (inserted.changes === 0) {
      // Only the clientMsgId index can refuse the row: a repeat (sendNow's comment).
      const earlier = this.earlierSend(input);
      if (earlier === null) throw new Error("A message row was refused with no earlier send to answer.");
      return earlier;
    }
    const rid = inserted.lastInsertRowid;
    if (message.expiresAt !== undefined)
      this.stmt.insertExpiring.run(conv, message.id, input.from, message.expiresAt, rid);
    const summary = this.summaries.get(conv);
    if (summary === undefined) {
      this.summaries.set(conv, [input.from, input.to, ts, message.id]);
    } else {
      summary[2] = ts;
      summary[3] = message.id;
    }
    const events = [
      this.appendMessage(input.from, message, body, rid),
      this.appendMessage(input.to, message, body, rid),
    ];
    const policy = this.sendPolicy;
    if (policy.messageCreated)
      this.outbox.insertInTx(
        { id: sendEntryIds.created(message.id), type: "message.created", data: `{"message":${body}}` },
        ts,
      );
    if (policy.notifyDelayMs !== null && input.kind !== "system")
      this.outbox.insertInTx(
        {
          id: sendEntryIds.notify(message.id),
          type: "notify",
          data: JSON.stringify({ user: input.to, peer: input.from, id: message.id, ts }),
          dueAt: ts + policy.notifyDelayMs,
        },
        ts,
      );
    return { message, duplicate: false, events, json: body };
  }

  markRead(reader: string, peer: string, upTo: string): Promise<ReadResult> {
    return this.enqueue(() => this.markReadNow(reader, peer, upTo));
  }

  private markReadNow(reader: string, peer: string, upTo: string, notifyPeer = true): ReadResult {
    this.writeSummaries(); // the read marker lives on the summary row, which may be pending
    const current = (this.stmt.readMarker.get(reader, peer) as string | null | undefined) ?? null;
    const last = this.stmt.lastFromPeerUpTo.get(conversationKey(reader, peer), peer, upTo) as
      | string
      | undefined;
    if (last === undefined || (current !== null && last <= current)) return { upTo: current, events: [] };
    this.stmt.setReadMarker.run(last, reader, peer);
    const ts = Date.now();
    const make =
      (who: string) =>
      (seq: number): ReadEvent => ({ type: "read", seq, peer: who, reader, upTo: last });
    const events = [this.append(reader, ts, make(peer))];
    if (notifyPeer) events.push(this.append(peer, ts, make(reader)));
    return { upTo: last, events };
  }

  readUnread(
    reader: string,
    peer: string,
    limit: number,
    markRead: boolean,
  ): Promise<{ messages: Message[]; events: UserEvent[] }> {
    const run = () => {
      this.writeSummaries();
      const current = (this.stmt.readMarker.get(reader, peer) as string | null | undefined) ?? "";
      const bodies = this.stmt.unread.pluck().all({
        conv: conversationKey(reader, peer),
        sender: peer,
        after: current,
        limit,
        now: Date.now(),
      }) as string[];
      const messages = bodies.map((b) => JSON.parse(b) as Message);
      const last = messages.at(-1);
      if (!markRead || last === undefined) return { messages, events: [] };
      const { events } = this.markReadNow(reader, peer, last.id);
      return { messages, events };
    };
    return markRead ? this.enqueue(run) : this.read(run);
  }

  /**
   * For the lifecycle module (lifecycle.ts), which shares this connection, its write queue (one
   * transaction per turn, in order with sends) and its in-memory heads of the event logs.
   */
  internals(): SqliteInternals {
    return {
      db: this.db,
      enqueue: (run) => this.enqueue(run),
      read: (run) => this.read(run),
      writeSummaries: () => this.writeSummaries(),
      nextSeq: (user) => this.head_(user) + 1,
      appended: (user, seq, rid) => {
        this.events.add(user, seq, Number(rid));
        this.heads.set(user, seq);
        this.touched.add(user);
      },
      markRead: (reader, peer, upTo, notifyPeer) => this.markReadNow(reader, peer, upTo, notifyPeer),
      wrote: () => this.checkpointer?.wrote(),
      ttls: this.ttls,
      events: this.events,
    };
  }

  // ---- reads: run at once ----

  read<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new DuetError("store_unavailable", "The store is closed."));
    try {
      return Promise.resolve(run());
    } catch (err) {
      return Promise.reject(
        new DuetError("store_unavailable", `The store failed to read: ${(err as Error).message}`),
      );
    }
  }

  history(
    user: string,
    peer: string,
    query: HistoryQuery,
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    return this.read(() => {
      const conv = conversationKey(user, peer);
      const where = ["conv = ?"];
      const params: unknown[] = [conv];
      if (query.after !== undefined) {
        where.push("id > ?");
        params.push(query.after);
      }
      if (query.before !== undefined) {
        where.push("id < ?");
        params.push(query.before);
      }
      // With only `after`, page forward from it; otherwise page back from `before` (or the end).
      const forward = query.after !== undefined && query.before === undefined;
      const sql = `SELECT body FROM messages WHERE ${where.join(" AND ")} ORDER BY id ${forward ? "ASC" : "DESC"} LIMIT ?`;
      let statement = this.historyStatements.get(sql);
      if (!statement) {
        statement = this.db.prepare(sql).pluck();
        this.historyStatements.set(sql, statement);
      }
      const bodies = statement.all(...params, query.limit + 1) as string[];
      const hasMore = bodies.length > query.limit;
      if (hasMore) bodies.pop();
      if (!forward) bodies.reverse();
      const now = Date.now();
      return { messages: bodies.map((b) => expiredView(JSON.parse(b) as Message, now)), hasMore };
    });
  }

  conversations(user: string, limit: number, before?: number): Promise<ConversationSummary[]> {
    return this.read(() => {
      const rows = this.stmt.conversations.all(user, before ?? Number.MAX_SAFE_INTEGER, limit) as Row[];
      const now = Date.now();
      return rows.map((row) => {
        const peer = String(row.peer);
        const conv = conversationKey(user, peer);
        const body = this.stmt.messageBody.get(conv, row.last_id) as string | undefined;
        const unread = this.stmt.unreadCount.get({
          conv,
          sender: peer,
          after: row.read_upto ?? "",
          now,
        }) as number;
        return {
          peer,
          unread,
          lastMessage: body === undefined ? null : expiredView(JSON.parse(body) as Message, now),
          updatedAt: Number(row.updated_at),
          // SPEC 15: the conversation's own ttl, from the map the send path reads (no query).
          ttl: this.ttls.get(conv) ?? 0,
        };
      });
    });
  }

  eventsSince(user: string, since: number, limit: number): Promise<EventPage> {
    return this.read(() => {
      const head = this.head_(user);
      // Most reads (a long-poll's next request, a resume) come with the head itself: no query.
      if (since === head) return { events: [], head, reset: false };
      const floor = (this.stmt.floor.get(user) as number | undefined) ?? 0;
      if (since > head || since < floor) return { events: [], head, reset: true };
      const rids = this.events.after(user, since, limit);
      const rows = this.stmt.eventsSince.all(JSON.stringify(rids)) as [number, string, string | null][];
      // A row with a message rid is rebuilt from the message as it is now (edited, or the
      // tombstone of an unsent or expired one): its body is "" for a `message` event, "edit" for an `edit`.
      const now = Date.now();
      const events = rows.map(
        ([seq, body, message]): StoredEvent =>
          message === null
            ? (JSON.parse(body) as StoredEvent)
            : {
                type: body === "edit" ? "edit" : "message",
                seq,
                message: expiredView(JSON.parse(message) as Message, now),
              },
      );
      return { events, head, reset: false };
    });
  }

  head(user: string): Promise<number> {
    return this.read(() => this.head_(user));
  }

  block(blocker: string, blocked: string): Promise<void> {
    return this.enqueue(() => {
      this.stmt.block.run(blocker, blocked);
    });
  }

  unblock(blocker: string, blocked: string): Promise<void> {
    return this.enqueue(() => {
      this.stmt.unblock.run(blocker, blocked);
    });
  }

  blocks(blocker: string): Promise<string[]> {
    return this.read(() => this.stmt.blocks.all(blocker) as string[]);
  }

  isBlocked(blocker: string, blocked: string): Promise<boolean> {
    return this.read(() => this.stmt.isBlocked.get(blocker, blocked) !== undefined);
  }

  countMessages(): Promise<number> {
    return this.read(() => this.stmt.countMessages.get() as number);
  }

  ping(): Promise<void> {
    return this.read(() => {
      this.db.prepare("SELECT 1").get();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await this.checkpointer?.close();
    this.db.close();
    this.owner?.close();
  }

  /** How many WAL checkpoints the checkpoint thread made, and how many the event loop finished. */
  checkpoints(): { thread: number; loop: number } {
    return { ...(this.checkpointer?.counts ?? { thread: 0, loop: 0 }) };
  }
}
