import type { Report, ReportStatus, ReportStore } from "../../core/safety/reports.js";
import type { Message } from "../../core/types.js";
import type { RedisClient } from "./connection.js";
import type { ScriptArg, ScriptName } from "./scripts.js";

export interface RedisReportsHost {
  /** The key prefix (RedisKeys.prefix). */
  prefix: string;
  /** The hash of a conversation's message bodies (RedisKeys.conversation(a, b).msg). */
  messages(a: string, b: string): string;
  script(name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown[]>;
  call<T>(request: () => Promise<T>): Promise<T>;
  client: RedisClient;
}

/**
 * Reports on Redis (see ReportStore). All of them share one hash tag (one slot on a cluster):
 *   {reports}:r         hash  id -> report JSON (with its copies of the evidence)
 *   {reports}:open      zset  ids of open reports, score 0 (lexicographic = filing order)
 *   {reports}:resolved  zset  ids of resolved reports
 * Reports are few next to messages; one slot keeps filing and resolving single atomic scripts.
 */
export class RedisReports implements ReportStore {
  private readonly h: RedisReportsHost;
  private readonly keys: { all: string; open: string; resolved: string };

  constructor(host: RedisReportsHost) {
    this.h = host;
    const base = `${host.prefix}{reports}:`;
    this.keys = { all: `${base}r`, open: `${base}open`, resolved: `${base}resolved` };
  }

  async create(report: Report): Promise<void> {
    await this.h.script(
      "duetReportCreate",
      [this.keys.all, this.keys.open],
      [report.id, JSON.stringify(report)],
    );
  }

  async list(status: ReportStatus, limit: number, before?: string): Promise<Report[]> {
    const zset = status === "open" ? this.keys.open : this.keys.resolved;
    const bodies = await this.h.script("duetReportList", [this.keys.all, zset], [before ?? "", limit]);
    return bodies.filter((b): b is string => typeof b === "string").map((b) => JSON.parse(b) as Report);
  }

  async get(id: string): Promise<Report | null> {
    const body = await this.h.call(() => this.h.client.hget(this.keys.all, id));
    return body === null ? null : (JSON.parse(body) as Report);
  }

  async resolve(id: string, action: string | null, at: number): Promise<Report | null> {
    const report = await this.get(id);
    if (report === null || report.status === "resolved") return report;
    const resolved: Report = { ...report, status: "resolved", resolvedAt: at, action, messages: [] };
    const done = await this.h.script(
      "duetReportResolve",
      [this.keys.all, this.keys.open, this.keys.resolved],
      [id, JSON.stringify(resolved)],
    );
    // Another call resolved it first: answer the report as that call left it.
    return Number(done) === 1 ? resolved : this.get(id);
  }

  async conversationMessages(a: string, b: string, ids: readonly string[]): Promise<Message[]> {
    if (ids.length === 0) return [];
    const sorted = [...ids].sort();
    const key = this.h.messages(a, b);
    const bodies = await this.h.call(() => this.h.client.hmget(key, ...sorted));
    return bodies.filter((body): body is string => body !== null).map((body) => JSON.parse(body) as Message);
  }
}
