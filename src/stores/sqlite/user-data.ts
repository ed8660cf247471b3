import type Database from "better-sqlite3";
import type { UserDataStore } from "../../core/ports/user-data.js";
import type { Report } from "../../core/safety/reports.js";
import type { SqliteInternals, SqliteStore } from "./sqlite-store.js";

/** SPEC 15's reads and writes about one user on SQLite (see UserDataStore). */
export class SqliteUserData implements UserDataStore {
  private readonly x: SqliteInternals;
  private readonly stmt;

  constructor(store: SqliteStore) {
    this.x = store.internals();
    const db: Database.Database = this.x.db;
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
    };
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
