import type Database from "better-sqlite3";
import type { UserDataStore } from "../../core/ports/user-data.js";
import type { Report } from "../../core/safety/reports.js";
import { conversationKey } from "./schema.js";
import type { SqliteInternals, SqliteStore } from "./sqlite-store.js";

export const USER_DATA_SCHEMA = `
-- SPEC 15: when each erased user was erased (ms): tokens issued before are refused.
CREATE TABLE IF NOT EXISTS erased_users (
  user TEXT PRIMARY KEY,
  at INTEGER NOT NULL
) WITHOUT ROWID;
-- An erase's work list: the peers whose conversations it still has to end (see UserDataStore).
CREATE TABLE IF NOT EXISTS erasing (
  user TEXT NOT NULL,
  peer TEXT NOT NULL,
  PRIMARY KEY (user, peer)
) WITHOUT ROWID;
`;

/** SPEC 15's reads and writes about one user on SQLite (see UserDataStore). */
export class SqliteUserData implements UserDataStore {
  private readonly x: SqliteInternals;
  private readonly stmt;
  private readonly eraseStmts: Database.Statement[];

  constructor(store: SqliteStore) {
    this.x = store.internals();
    const db: Database.Database = this.x.db;
    db.exec(USER_DATA_SCHEMA);
    const has = (table: string) =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
    // The lifecycle's tables (settings, mutes, delivery markers) exist once its module opened.
    const lifecycle = has("settings") && has("mutes") && has("delivered");
    this.eraseStmts = [
      db.prepare("DELETE FROM conversations WHERE user = ?"),
      db.prepare("DELETE FROM erasing WHERE user = ?"),
      ...(lifecycle
        ? [
            db.prepare("DELETE FROM settings WHERE user = ?"),
            db.prepare("DELETE FROM mutes WHERE user = ?"),
            db.prepare("DELETE FROM delivered WHERE user = ?"),
          ]
        : []),
    ];
    this.stmt = {
      // The conversation list holds every conversation with messages (and new matches); the
      // pairs table adds pairs with none, and unmatched ones whose history was kept.
      peers: db
        .prepare(
          `SELECT peer FROM conversations WHERE user = @user
           UNION SELECT b FROM pairs WHERE a = @user UNION SELECT a FROM pairs WHERE b = @user
           ORDER BY 1`,
        )
        .pluck(),
      reports: db.prepare("SELECT id, body FROM reports WHERE id > ? ORDER BY id LIMIT ?"),
      mark: db.prepare(
        "INSERT INTO erased_users (user, at) VALUES (?, ?) ON CONFLICT (user) DO UPDATE SET at = max(at, excluded.at)",
      ),
      marks: db.prepare("SELECT user, at FROM erased_users WHERE at >= ?"),
      note: db.prepare("INSERT OR IGNORE INTO erasing (user, peer) VALUES (?, ?)"),
      erasing: db.prepare("SELECT peer FROM erasing WHERE user = ? ORDER BY peer").pluck(),
      done: db.prepare("DELETE FROM erasing WHERE user = ? AND peer = ?"),
      forgetPair: db.prepare("DELETE FROM pairs WHERE conv = ? AND state = 'u'"),
      // The user's rids come from the in-memory EventIndex (a JSON array): no index on users.
      dropEvents: db.prepare("DELETE FROM events WHERE rid IN (SELECT value FROM json_each(?))"),
      // The log's head stays as its floor: a later log of the same id goes on from it, so no
      // cursor a device of the erased user still holds ever matches new events.
      keepHead: db.prepare(
        `INSERT INTO logs (user, floor) VALUES (?, ?)
         ON CONFLICT (user) DO UPDATE SET floor = max(floor, excluded.floor)`,
      ),
    };
  }

  markErased(user: string, at: number): Promise<void> {
    return this.x.enqueue(() => {
      this.stmt.mark.run(user, at);
    });
  }

  erasedSince(since: number): Promise<Map<string, number>> {
    return this.x.read(() => {
      const rows = this.stmt.marks.all(since) as { user: string; at: number }[];
      return new Map(rows.map((r) => [r.user, r.at]));
    });
  }

  noteErasing(user: string, peers: readonly string[]): Promise<void> {
    return this.x.enqueue(() => {
      for (const peer of peers) this.stmt.note.run(user, peer);
    });
  }

  erasing(user: string): Promise<string[]> {
    return this.x.read(() => this.stmt.erasing.all(user) as string[]);
  }

  erasingDone(user: string, peer: string): Promise<void> {
    return this.x.enqueue(() => {
      this.stmt.done.run(user, peer);
    });
  }

  forgetPair(a: string, b: string): Promise<void> {
    return this.x.enqueue(() => {
      this.stmt.forgetPair.run(conversationKey(a, b));
    });
  }

  eraseRest(user: string): Promise<void> {
    return this.x.enqueue(() => {
      const head = this.x.nextSeq(user) - 1;
      this.stmt.dropEvents.run(JSON.stringify(this.x.events.clear(user)));
      if (head > 0) this.stmt.keepHead.run(user, head);
      for (const statement of this.eraseStmts) statement.run(user);
    });
  }

  peers(user: string): Promise<string[]> {
    return this.x.read(() => this.stmt.peers.all({ user }) as string[]);
  }

  async *reportsFiledBy(user: string, batch: number): AsyncIterable<Report[]> {
    let after = "";
    for (;;) {
      const rows = await this.x.read(
        () => this.stmt.reports.all(after, batch) as { id: string; body: string }[],
      );
      const last = rows.at(-1);
      if (last === undefined) return;
      after = last.id;
      const mine = rows.map((r) => JSON.parse(r.body) as Report).filter((r) => r.reporter === user);
      if (mine.length > 0) yield mine;
      if (rows.length < batch) return;
    }
  }
}
