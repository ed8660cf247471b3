import type Database from "better-sqlite3";
import type {
  NewOutboxEntry,
  Outbox,
  OutboxDepth,
  OutboxEntry,
  OutboxOutcome,
} from "../../core/ports/outbox.js";

type Row = {
  id: string;
  type: string;
  data: string;
  created_at: number;
  attempts: number;
  last_error: string | null;
};

export const OUTBOX_SCHEMA = `
-- The durable outbox (src/core/ports/outbox.ts). failed_at is null while the entry is pending; a
-- claimed entry's due_at is the end of its lease.
CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  failed_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outbox_by_due ON outbox (failed_at, due_at);
CREATE TABLE IF NOT EXISTS outbox_marks (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outbox_marks_by_expiry ON outbox_marks (expires_at);
`;

function entryOf(row: Row): OutboxEntry {
  return {
    id: row.id,
    type: row.type,
    data: row.data,
    createdAt: Number(row.created_at),
    attempts: Number(row.attempts),
    lastError: row.last_error,
  };
}

/**
 * The SQLite outbox: a table in the store's file, written through the store's write queue, so an
 * entry a send adds (insertInTx) commits in the same transaction as the message.
 */
export class SqliteOutbox implements Outbox {
  private readonly write: <T>(run: () => T) => Promise<T>;
  private readonly read: <T>(run: () => T) => Promise<T>;
  private readonly stmt;

  constructor(
    db: Database.Database,
    write: <T>(run: () => T) => Promise<T>,
    read: <T>(run: () => T) => Promise<T>,
  ) {
    db.exec(OUTBOX_SCHEMA);
    this.write = write;
    this.read = read;
    this.stmt = {
      insert: db.prepare(
        "INSERT OR IGNORE INTO outbox (id, type, data, created_at, due_at) VALUES (?, ?, ?, ?, ?)",
      ),
      due: db.prepare(
        `SELECT id, type, data, created_at, attempts, last_error FROM outbox
         WHERE failed_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?`,
      ),
      lease: db.prepare("UPDATE outbox SET due_at = ? WHERE id = ? AND failed_at IS NULL"),
      ack: db.prepare("DELETE FROM outbox WHERE id = ? AND failed_at IS NULL"),
      reschedule: db.prepare(
        `UPDATE outbox SET due_at = ?, attempts = attempts + 1, last_error = ?
         WHERE id = ? AND failed_at IS NULL`,
      ),
      fail: db.prepare(
        `UPDATE outbox SET failed_at = ?, attempts = attempts + 1, last_error = ?
         WHERE id = ? AND failed_at IS NULL`,
      ),
      listFailed: db.prepare(
        `SELECT id, type, data, created_at, attempts, last_error FROM outbox
         WHERE failed_at IS NOT NULL ORDER BY failed_at, id LIMIT ?`,
      ),
      // A fresh retry budget: the budget runs from created_at, so the retried entry's clock restarts
      // through due_at only; the dispatcher measures the budget from the first attempt after it.
      retryAll: db.prepare(
        "UPDATE outbox SET failed_at = NULL, due_at = ?, attempts = 0 WHERE failed_at IS NOT NULL",
      ),
      retryOne: db.prepare(
        "UPDATE outbox SET failed_at = NULL, due_at = ?, attempts = 0 WHERE id = ? AND failed_at IS NOT NULL",
      ),
      pending: db.prepare("SELECT count(*) FROM outbox WHERE failed_at IS NULL").pluck(),
      failed: db.prepare("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL").pluck(),
      nextDue: db.prepare("SELECT min(due_at) FROM outbox WHERE failed_at IS NULL").pluck(),
      getMark: db.prepare("SELECT value FROM outbox_marks WHERE key = ? AND expires_at > ?").pluck(),
      setMark: db.prepare(
        `INSERT INTO outbox_marks (key, value, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      ),
      dropExpiredMarks: db.prepare("DELETE FROM outbox_marks WHERE expires_at <= ?"),
      scan: db.prepare(
        `SELECT id, type, data, created_at, attempts, last_error FROM outbox
         WHERE id > ? ORDER BY id LIMIT ?`,
      ),
      remove: db.prepare("DELETE FROM outbox WHERE id = ?"),
    };
  }

  /** Adds an entry inside the write transaction that is running now (the store's write queue). */
  insertInTx(entry: NewOutboxEntry, now = Date.now()): void {
    this.stmt.insert.run(entry.id, entry.type, entry.data, entry.createdAt ?? now, entry.dueAt ?? now);
  }

  enqueue(entries: NewOutboxEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return this.write(() => {
      const now = Date.now();
      for (const entry of entries) this.insertInTx(entry, now);
    });
  }

  claim(limit: number, leaseMs: number): Promise<OutboxEntry[]> {
    return this.write(() => {
      const now = Date.now();
      const rows = this.stmt.due.all(now, limit) as Row[];
      for (const row of rows) this.stmt.lease.run(now + leaseMs, row.id);
      return rows.map(entryOf);
    });
  }

  ack(id: string): Promise<void> {
    return this.write(() => {
      this.stmt.ack.run(id);
    });
  }

  reschedule(id: string, dueAt: number, lastError: string): Promise<void> {
    return this.write(() => {
      this.stmt.reschedule.run(dueAt, lastError, id);
    });
  }

  fail(id: string, lastError: string): Promise<void> {
    return this.write(() => {
      this.stmt.fail.run(Date.now(), lastError, id);
    });
  }

  settle(outcomes: OutboxOutcome[]): Promise<void> {
    if (outcomes.length === 0) return Promise.resolve();
    // One write transaction for the whole batch (the store's write queue), not one per entry.
    return this.write(() => {
      const now = Date.now();
      for (const o of outcomes) {
        if (o.action === "ack") this.stmt.ack.run(o.id);
        else if (o.action === "reschedule") this.stmt.reschedule.run(o.dueAt, o.lastError, o.id);
        else this.stmt.fail.run(now, o.lastError, o.id);
      }
    });
  }

  listFailed(limit: number): Promise<OutboxEntry[]> {
    return this.read(() => (this.stmt.listFailed.all(limit) as Row[]).map(entryOf));
  }

  retryFailed(ids?: string[]): Promise<number> {
    return this.write(() => {
      const now = Date.now();
      if (ids === undefined) return this.stmt.retryAll.run(now).changes;
      let n = 0;
      for (const id of ids) n += this.stmt.retryOne.run(now, id).changes;
      return n;
    });
  }

  depth(): Promise<OutboxDepth> {
    return this.read(() => ({
      pending: this.stmt.pending.get() as number,
      failed: this.stmt.failed.get() as number,
    }));
  }

  nextDue(): Promise<number | null> {
    return this.read(() => (this.stmt.nextDue.get() as number | null) ?? null);
  }

  getMark(key: string): Promise<string | null> {
    return this.read(() => (this.stmt.getMark.get(key, Date.now()) as string | undefined) ?? null);
  }

  setMark(key: string, value: string, ttlMs: number): Promise<void> {
    return this.write(() => {
      const now = Date.now();
      this.stmt.dropExpiredMarks.run(now);
      this.stmt.setMark.run(key, value, now + ttlMs);
    });
  }

  scan(cursor: string | null, limit: number): Promise<{ entries: OutboxEntry[]; next: string | null }> {
    return this.read(() => {
      const rows = this.stmt.scan.all(cursor ?? "", limit) as Row[];
      const last = rows.at(-1);
      return { entries: rows.map(entryOf), next: rows.length < limit || last === undefined ? null : last.id };
    });
  }

  remove(ids: string[]): Promise<number> {
    if (ids.length === 0) return Promise.resolve(0);
    return this.write(() => {
      let n = 0;
      for (const id of ids) n += this.stmt.remove.run(id).changes;
      return n;
    });
  }
}

export const PUSH_SCHEMA = `
CREATE TABLE IF NOT EXISTS push_subscriptions (
  user TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user, endpoint)
) WITHOUT ROWID;
`;
