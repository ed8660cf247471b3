import type { Ban, BanStore } from "../../core/bans.js";
import type { SqliteHost } from "./pairs.js";

export const BANS_SCHEMA = `
-- until: ms, NULL for a ban until lifted.
CREATE TABLE IF NOT EXISTS bans (
  user TEXT PRIMARY KEY,
  reason TEXT,
  until INTEGER
) WITHOUT ROWID;
`;

type Row = { user: string; reason: string | null; until: number | null };

/** Bans on SQLite (see BanStore): one small table, written through the store's write queue. */
export class SqliteBans implements BanStore {
  private readonly host: SqliteHost;
  private readonly stmt;

  constructor(host: SqliteHost) {
    this.host = host;
    host.db.exec(BANS_SCHEMA);
    const db = host.db;
    this.stmt = {
      put: db.prepare(
        `INSERT INTO bans (user, reason, until) VALUES (?, ?, ?)
         ON CONFLICT (user) DO UPDATE SET reason = excluded.reason, until = excluded.until`,
      ),
      del: db.prepare("DELETE FROM bans WHERE user = ?"),
      get: db.prepare("SELECT user, reason, until FROM bans WHERE user = ?"),
      active: db.prepare("SELECT user, reason, until FROM bans WHERE until IS NULL OR until > ?"),
      expired: db.prepare("DELETE FROM bans WHERE until IS NOT NULL AND until <= ?"),
    };
  }

  ban(user: string, ban: Ban): Promise<void> {
    return this.host.enqueue(() => {
      this.stmt.put.run(user, ban.reason, ban.until);
    });
  }

  unban(user: string): Promise<boolean> {
    return this.host.enqueue(() => this.stmt.del.run(user).changes > 0);
  }

  banOf(user: string, now = Date.now()): Promise<Ban | null> {
    return this.host.read(() => {
      const row = this.stmt.get.get(user) as Row | undefined;
      if (row === undefined || (row.until !== null && row.until <= now)) return null;
      return { reason: row.reason, until: row.until };
    });
  }

  async active(now = Date.now()): Promise<Map<string, Ban>> {
    const rows = await this.host.read(() => this.stmt.active.all(now) as Row[]);
    const out = new Map<string, Ban>();
    for (const row of rows) out.set(row.user, { reason: row.reason, until: row.until });
    return out;
  }
}
