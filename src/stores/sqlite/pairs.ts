import type Database from "better-sqlite3";
import { DuetError } from "../../core/errors.js";
import type {
  MatchResult,
  Pair,
  PairScreen,
  PairStore,
  PairsMode,
  Relation,
  UnmatchResult,
} from "../../core/pairs.js";
import type { UserEvent } from "../../core/ports/store.js";
import type { PairEvent, StoredEvent } from "../../core/types.js";
import type { EventIndex } from "./event-index.js";
import { conversationKey } from "./schema.js";

/** What the pairs need of the SQLite store: its connection, write queue, reads and event log. */
export interface SqliteHost {
  readonly db: Database.Database;
  /** Runs `run` inside the store's next write transaction. */
  enqueue<T>(run: () => T): Promise<T>;
  read<T>(run: () => T): Promise<T>;
  append(user: string, ts: number, make: (seq: number) => StoredEvent): UserEvent;
  /** Writes the conversation summaries pending in the current batch (before rows are deleted). */
  writeSummaries(): void;
  /** SPEC 15: forgets a conversation's ttl and its expiring messages (an unmatch that erases it). */
  forgetExpiry(conv: string): void;
  /** Each user's seq -> rid map (the events table has no index on users). */
  readonly events: EventIndex;
}

export const PAIRS_SCHEMA = `
-- A pair is unordered: \`conv\` is the conversation key ("a b", sorted). state: m (matched) or
-- u (unmatched: kept so that open mode refuses the two until they are matched again).
CREATE TABLE IF NOT EXISTS pairs (
  conv TEXT PRIMARY KEY,
  a TEXT NOT NULL,
  b TEXT NOT NULL,
  state TEXT NOT NULL,
  since INTEGER NOT NULL,
  screen TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pairs_by_a ON pairs (a, since);
CREATE INDEX IF NOT EXISTS pairs_by_b ON pairs (b, since);

-- Conversations whose messages are being erased (unmatch), in chunks: one left here by a crash
-- is finished when the store opens again.
-- \`upto\`: the newest message rid to erase, so messages of a new match made meanwhile stay.
CREATE TABLE IF NOT EXISTS erasures (
  conv TEXT PRIMARY KEY,
  upto INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Messages deleted per write transaction while erasing: each chunk holds the writer a few ms. */
const ERASE_CHUNK = 1000;

type Row = Record<string, unknown>;

/**
 * Pairs on SQLite (see PairStore). The send path's check (`sendGate`) is one statement
 * in the send's own transaction, so a send and an unmatch are ordered by the write queue.
 */
export class SqlitePairs implements PairStore {
  private readonly host: SqliteHost;
  private readonly mode: PairsMode;
  private readonly stmt;
  /** Erasures under way, so a repeated unmatch or a resumed one does not start a second. */
  private readonly erasing = new Map<string, Promise<number>>();

  constructor(host: SqliteHost, mode: PairsMode) {
    this.host = host;
    this.mode = mode;
    const db = host.db;
    // Erased means gone from the file: a deleted row's bytes are overwritten with zeros (the
    // default leaves them in the page, or on the freelist, until reused). Deletes are rare here
    // (erasures, retention trims of rows that hold no message bodies), so this costs sends nothing.
    db.pragma("secure_delete = ON");
    db.exec(PAIRS_SCHEMA);
    this.stmt = {
      get: db.prepare("SELECT a, b, state, since, screen FROM pairs WHERE conv = ?"),
      state: db.prepare("SELECT state FROM pairs WHERE conv = ?").pluck(),
      upsert: db.prepare(
        `INSERT INTO pairs (conv, a, b, state, since, screen) VALUES (?, ?, ?, 'm', ?, ?)
         ON CONFLICT (conv) DO UPDATE SET state = 'm', since = excluded.since, screen = excluded.screen`,
      ),
      setScreen: db.prepare("UPDATE pairs SET screen = ? WHERE conv = ?"),
      unmatch: db.prepare("UPDATE pairs SET state = 'u' WHERE conv = ?"),
      pairsOf: db.prepare(
        `SELECT a, b, since, screen FROM pairs WHERE a = ? AND state = 'm'
         UNION ALL SELECT a, b, since, screen FROM pairs WHERE b = ? AND state = 'm'
         ORDER BY since DESC`,
      ),
      isBlocked: db.prepare("SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?").pluck(),
      sendGate: db
        .prepare(
          `SELECT (SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?),
                  (SELECT state FROM pairs WHERE conv = ?)`,
        )
        .raw(),
      listNewMatch: db.prepare(
        "INSERT OR IGNORE INTO conversations (user, peer, updated_at, last_id) VALUES (?, ?, ?, '')",
      ),
      dropConversation: db.prepare("DELETE FROM conversations WHERE user = ? AND peer = ?"),
      // A message event holds its message's rid: found through the user's own log (its rids from
      // the in-memory EventIndex, a JSON array; bounded by retention), not by scanning the
      // conversation's messages. Both answer the rids they deleted, for the index.
      dropMessageEvents: db
        .prepare(
          `DELETE FROM events WHERE rid IN (
             SELECT e.rid FROM json_each(?) j CROSS JOIN events e ON e.rid = j.value
             JOIN messages m ON m.rid = e.msg WHERE m.conv = ?) RETURNING rid`,
        )
        .pluck(),
      // Every other event about the conversation names the peer (read, and those that carry a
      // whole message, as files from before \`events.msg\` do); pair events stay (no content).
      dropOtherEvents: db
        .prepare(
          `DELETE FROM events WHERE rid IN (SELECT value FROM json_each(@rids)) AND msg IS NULL
             AND json_extract(body, '$.type') <> 'pair'
             AND (json_extract(body, '$.peer') = @peer OR json_extract(body, '$.message.from') = @peer
                  OR json_extract(body, '$.message.to') = @peer)
           RETURNING rid`,
        )
        .pluck(),
      startErasure: db.prepare(
        `INSERT INTO erasures (conv, upto) VALUES (?, (SELECT coalesce(max(rid), 0) FROM messages))
         ON CONFLICT (conv) DO UPDATE SET upto = excluded.upto`,
      ),
      endErasure: db.prepare("DELETE FROM erasures WHERE conv = ?"),
      erasureEnd: db.prepare("SELECT upto FROM erasures WHERE conv = ?").pluck(),
      pendingErasures: db.prepare("SELECT conv FROM erasures").pluck(),
      eraseChunk: db.prepare(
        `DELETE FROM messages WHERE rid IN
           (SELECT rid FROM messages WHERE conv = ? AND rid <= ? LIMIT ${ERASE_CHUNK})`,
      ),
    };
    // An erasure a crash interrupted is finished now (its events and list entries went in the
    // first step; what is left is messages).
    for (const conv of this.stmt.pendingErasures.all() as string[])
      void this.eraseMessages(conv).catch(() => {});
  }

  private lifecycleStmts: { delivered: Database.Statement; unsent: Database.Statement } | null | undefined;

  /**
   * The message lifecycle's per-conversation rows (SPEC 13: delivery markers, unsent ids), when
   * its tables exist (they are made by another module, possibly after this one).
   */
  private lifecycle(): { delivered: Database.Statement; unsent: Database.Statement } | null {
    if (this.lifecycleStmts === undefined || this.lifecycleStmts === null) {
      const has = (table: string) =>
        this.host.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !==
        undefined;
      this.lifecycleStmts =
        has("delivered") && has("unsent")
          ? {
              delivered: this.host.db.prepare("DELETE FROM delivered WHERE user = ? AND peer = ?"),
              unsent: this.host.db.prepare("DELETE FROM unsent WHERE conv = ?"),
            }
          : null;
    }
    return this.lifecycleStmts;
  }

  private pairOf(row: Row): Pair {
    return {
      users: [String(row.a), String(row.b)],
      since: Number(row.since),
      screen: (row.screen as PairScreen | null) ?? null,
    };
  }

  /** Called inside a send's transaction: throws not_matched when the mode refuses the pair. */
  /**
   * The send path's checks, inside the send's transaction: `to` blocked `from` (blocked), then the
   * pair's state (not_matched). One statement for both: most of a lookup's cost on this path is
   * the call into SQLite, not the B-tree search of two small tables.
   */
  sendGate(from: string, to: string): void {
    const [blocked, state] = this.stmt.sendGate.get(to, from, conversationKey(from, to)) as [
      number | null,
      string | null,
    ];
    if (blocked !== null) throw new DuetError("blocked");
    if (state === "u" || (this.mode === "matched" && state !== "m")) throw new DuetError("not_matched");
  }

  match(a: string, b: string, screen: PairScreen | null | undefined): Promise<MatchResult> {
    return this.host.enqueue(() => {
      const conv = conversationKey(a, b);
      const [lo, hi] = a < b ? [a, b] : [b, a];
      const row = this.stmt.get.get(conv) as Row | undefined;
      if (row !== undefined && row.state === "m") {
        if (screen !== undefined && screen !== row.screen) this.stmt.setScreen.run(screen, conv);
        const pair = this.pairOf(screen === undefined ? row : { ...row, screen });
        return { pair, created: false, events: [] };
      }
      const since = Date.now();
      this.stmt.upsert.run(conv, lo, hi, since, screen ?? null);
      // A new match is listed (with no last message) so the app can show "say hi".
      this.stmt.listNewMatch.run(lo, hi, since);
      this.stmt.listNewMatch.run(hi, lo, since);
      const events = [this.pairEvent(lo, hi, since, "matched"), this.pairEvent(hi, lo, since, "matched")];
      return { pair: { users: [lo, hi], since, screen: screen ?? null }, created: true, events };
    });
  }

  private pairEvent(user: string, peer: string, ts: number, state: PairEvent["state"], erased?: boolean) {
    return this.host.append(user, ts, (seq) => {
      const event: PairEvent = { type: "pair", seq, peer, state };
      if (erased !== undefined) event.historyDeleted = erased;
      return event;
    });
  }

  pair(a: string, b: string): Promise<Pair | null> {
    return this.host.read(() => {
      const row = this.stmt.get.get(conversationKey(a, b)) as Row | undefined;
      return row === undefined || row.state !== "m" ? null : this.pairOf(row);
    });
  }

  pairsOf(user: string): Promise<Pair[]> {
    return this.host.read(() => (this.stmt.pairsOf.all(user, user) as Row[]).map((r) => this.pairOf(r)));
  }

  relation(a: string, b: string): Promise<Relation> {
    return this.host.read(() => {
      const state = this.stmt.state.get(conversationKey(a, b)) as string | undefined;
      return {
        pair: state === "m" ? "matched" : state === "u" ? "unmatched" : "none",
        aBlockedB: this.stmt.isBlocked.get(a, b) !== undefined,
        bBlockedA: this.stmt.isBlocked.get(b, a) !== undefined,
      };
    });
  }

  /**
   * One transaction ends the pair, appends both `pair` events and (erasing) deletes both logs'
   * events of the conversation, its list entries and read markers; then the messages go in
   * chunks of ERASE_CHUNK, each its own transaction, so other writes interleave. The answer
   * comes once the last chunk is gone.
   */
  async unmatch(a: string, b: string, erase: boolean, force = false): Promise<UnmatchResult> {
    const conv = conversationKey(a, b);
    const events = await this.host.enqueue(() => {
      const state = this.stmt.state.get(conv) as string | undefined;
      const matched = state === "m";
      // force (SPEC 15's erase, always with erase): any state, never matched first.
      if (!matched && !(force && erase)) throw new DuetError("not_found", "These two users are not matched.");
      this.stmt.unmatch.run(conv);
      // Who gets the `pair` event: both when the pair was matched; forced, each side that still
      // lists the conversation (a repeat, with nothing left, tells no one again).
      const told = new Set<string>(matched ? [a, b] : []);
      if (erase) {
        this.host.writeSummaries();
        for (const [user, peer] of [
          [a, b],
          [b, a],
        ] as const) {
          const log = this.host.events;
          log.forget(user, this.stmt.dropMessageEvents.all(JSON.stringify(log.all(user)), conv) as number[]);
          const rids = JSON.stringify(log.all(user));
          log.forget(user, this.stmt.dropOtherEvents.all({ rids, peer }) as number[]);
          if (this.stmt.dropConversation.run(user, peer).changes > 0) told.add(user);
          this.lifecycle()?.delivered.run(user, peer);
        }
        this.lifecycle()?.unsent.run(conv);
        this.host.forgetExpiry(conv);
        this.stmt.startErasure.run(conv);
      }
      const ts = Date.now();
      return [
        ...(told.has(a) ? [this.pairEvent(a, b, ts, "unmatched", erase)] : []),
        ...(told.has(b) ? [this.pairEvent(b, a, ts, "unmatched", erase)] : []),
      ];
    });
    const erased = erase ? await this.eraseMessages(conv) : 0;
    return { events, erased };
  }

  private eraseMessages(conv: string): Promise<number> {
    let running = this.erasing.get(conv);
    if (running === undefined) {
      running = this.eraseLoop(conv).finally(() => this.erasing.delete(conv));
      this.erasing.set(conv, running);
    }
    return running;
  }

  private async eraseLoop(conv: string): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.host.enqueue(() => {
        const upto = this.stmt.erasureEnd.get(conv) as number | undefined;
        if (upto === undefined) return 0;
        const n = this.stmt.eraseChunk.run(conv, upto).changes;
        if (n < ERASE_CHUNK) this.stmt.endErasure.run(conv);
        return n;
      });
      total += deleted;
      if (deleted < ERASE_CHUNK) return total;
    }
  }
}
