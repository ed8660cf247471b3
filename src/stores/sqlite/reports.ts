import type Database from "better-sqlite3";
import type { Report, ReportStatus, ReportStore } from "../../core/safety/reports.js";
import type { Message } from "../../core/types.js";
import type { SqliteHost } from "./pairs.js";
import { conversationKey } from "./schema.js";

export const REPORTS_SCHEMA = `
-- Reports (SPEC 12), apart from messages: \`body\` is the report's JSON with its copies of the
-- evidence, so erasing a conversation never reaches it.
CREATE TABLE IF NOT EXISTS reports (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reports_by_status ON reports (status, id);
`;

/** Reports on SQLite (see ReportStore): one table, written through the store's write queue. */
export class SqliteReports implements ReportStore {
  private readonly host: SqliteHost;
  private readonly stmt;
  private readonly byId: Database.Statement;

  constructor(host: SqliteHost) {
    this.host = host;
    host.db.exec(REPORTS_SCHEMA);
    const db = host.db;
    this.stmt = {
      insert: db.prepare("INSERT INTO reports (id, status, body) VALUES (?, ?, ?)"),
      get: db.prepare("SELECT body FROM reports WHERE id = ?").pluck(),
      list: db
        .prepare("SELECT body FROM reports WHERE status = ? AND id < ? ORDER BY id DESC LIMIT ?")
        .pluck(),
      update: db.prepare("UPDATE reports SET status = ?, body = ? WHERE id = ? AND status = 'open'"),
    };
    this.byId = db.prepare("SELECT body FROM messages WHERE conv = ? AND id = ?").pluck();
  }

  create(report: Report): Promise<void> {
    return this.host.enqueue(() => {
      this.stmt.insert.run(report.id, report.status, JSON.stringify(report));
    });
  }

  list(status: ReportStatus, limit: number, before?: string): Promise<Report[]> {
    // "~" sorts after every id character: no `before` lists from the newest.
    return this.host.read(() =>
      (this.stmt.list.all(status, before ?? "~", limit) as string[]).map((b) => JSON.parse(b) as Report),
    );
  }

  get(id: string): Promise<Report | null> {
    return this.host.read(() => {
      const body = this.stmt.get.get(id) as string | undefined;
      return body === undefined ? null : (JSON.parse(body) as Report);
    });
  }

  resolve(id: string, action: string | null, at: number): Promise<Report | null> {
    return this.host.enqueue(() => {
      const body = this.stmt.get.get(id) as string | undefined;
      if (body === undefined) return null;
      const report = JSON.parse(body) as Report;
      if (report.status === "resolved") return report;
      const resolved: Report = { ...report, status: "resolved", resolvedAt: at, action, messages: [] };
      this.stmt.update.run("resolved", JSON.stringify(resolved), id);
      return resolved;
    });
  }

  conversationMessages(a: string, b: string, ids: readonly string[]): Promise<Message[]> {
    return this.host.read(() => {
      const conv = conversationKey(a, b);
      const out: Message[] = [];
      for (const id of [...ids].sort()) {
        const body = this.byId.get(conv, id) as string | undefined;
        if (body !== undefined) out.push(JSON.parse(body) as Message);
      }
      return out;
    });
  }
}
