import { DuetError } from "../errors.js";
import { expiredView } from "../expiry.js";
import { MonotonicUlid } from "../ids.js";
import type { Message, Report, ReportReason, ReportStatus } from "../types.js";
import { asObject, isUserId, messageId, onlyKeys, SYSTEM_USER, userId } from "../validate.js";

/** SPEC 12: why a user reports another. */
export const REPORT_REASONS: readonly ReportReason[] = [
  "spam",
  "harassment",
  "scam",
  "inappropriate",
  "underage",
  "other",
];
export type { Report, ReportReason, ReportStatus };

/**
 * The reports port (stores implement it; test/stores/reports-contract.ts holds them to it).
 * - Reports are kept apart from messages: erasing a conversation (unsend, unmatch, expiry, a
 *   user's erasure) never touches a report's copies.
 * - `resolve` moves an open report to resolved once, atomically; on a report resolved already it
 *   changes nothing and answers the report as it is.
 */
export interface ReportStore {
  create(report: Report): Promise<void>;
  /** Newest first; `before`: only reports with a smaller id. */
  list(status: ReportStatus, limit: number, before?: string): Promise<Report[]>;
  get(id: string): Promise<Report | null>;
  /** Null when there is no such report. */
  resolve(id: string, action: string | null, at: number): Promise<Report | null>;
  /**
   * The messages of the conversation of `a` and `b` with these ids, in id order; ids that are not
   * messages of that conversation are left out.
   */
  conversationMessages(a: string, b: string, ids: readonly string[]): Promise<Message[]>;
}

/** What the service needs besides the port: the conversation's latest messages. */
export interface ReportSources {
  store: ReportStore;
  /** The last `limit` messages of `user`'s conversation with `peer`, oldest first. */
  latest(user: string, peer: string, limit: number): Promise<Message[]>;
  /** Told of each new report (the `report.created` webhook). */
  created(report: Report): Promise<void>;
}

export const MAX_NOTE = 1000;
export const MAX_MESSAGE_IDS = 50;
export const EVIDENCE_WHEN_NONE_NAMED = 20;
const MAX_ACTION = 200;

export interface ReportInput {
  user: string;
  reason: ReportReason;
  note: string | null;
  messageIds: string[];
}

/** Validates `POST /v1/reports` `{user, reason, messageIds?, note?}` (SPEC 12). */
export function reportInput(reporter: string, body: unknown): ReportInput {
  const obj = asObject(body);
  onlyKeys(obj, ["user", "reason", "messageIds", "note"], "the body");
  const user = userId(obj.user, "user");
  if (user === reporter) throw new DuetError("invalid_input", "You cannot report yourself.");
  if (user === SYSTEM_USER) throw new DuetError("invalid_input", "The system user cannot be reported.");
  if (typeof obj.reason !== "string" || !(REPORT_REASONS as readonly string[]).includes(obj.reason))
    throw new DuetError("invalid_input", `reason must be one of ${REPORT_REASONS.join(", ")}.`);
  let note: string | null = null;
  if (obj.note !== undefined && obj.note !== null) {
    if (
      typeof obj.note !== "string" ||
      obj.note.length > MAX_NOTE ||
      /[\uD800-\uDFFF]/u.test(obj.note) ||
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
      /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(obj.note)
    )
      throw new DuetError(
        "invalid_input",
        `note must be a string of at most ${MAX_NOTE} characters, without control characters.`,
      );
    note = obj.note.length === 0 ? null : obj.note;
  }
  let messageIds: string[] = [];
  if (obj.messageIds !== undefined && obj.messageIds !== null) {
    if (!Array.isArray(obj.messageIds) || obj.messageIds.length > MAX_MESSAGE_IDS)
      throw new DuetError(
        "invalid_input",
        `messageIds must be an array of at most ${MAX_MESSAGE_IDS} message ids.`,
      );
    messageIds = [...new Set(obj.messageIds.map((id, i) => messageId(id, `messageIds[${i}]`)))].sort();
  }
  return { user, reason: obj.reason as ReportReason, note, messageIds };
}

/** Validates `POST /v1/admin/reports/:id/resolve` `{action?}`. */
export function resolveInput(body: unknown): string | null {
  const obj = asObject(body);
  onlyKeys(obj, ["action"], "the body");
  if (obj.action === undefined || obj.action === null) return null;
  if (typeof obj.action !== "string" || obj.action.length < 1 || obj.action.length > MAX_ACTION)
    throw new DuetError("invalid_input", `action must be a string of 1-${MAX_ACTION} characters.`);
  return obj.action;
}

export function reportStatus(value: string | null): ReportStatus {
  if (value === null || value === "open") return "open";
  if (value === "resolved") return "resolved";
  throw new DuetError("invalid_input", "status must be open or resolved.");
}

/** A report id in a path (a ULID, like message ids). */
export function reportId(value: unknown): string {
  return messageId(value, "report id");
}

/**
 * Reports (SPEC 12): filed by users about a peer, with copies of the evidence, listed and resolved
 * through the server API only. No user route lists reports: a user cannot see reports about them.
 */
export class ReportService {
  private readonly sources: ReportSources;
  private readonly ids = new MonotonicUlid();

  constructor(sources: ReportSources) {
    this.sources = sources;
  }

  async file(reporter: string, input: ReportInput): Promise<Report> {
    if (!isUserId(reporter)) throw new DuetError("invalid_input");
    let messages: Message[];
    if (input.messageIds.length > 0) {
      // An expired message (SPEC 15) is evidence of nothing but its tombstone, as an unsent one.
      const at = Date.now();
      messages = (await this.sources.store.conversationMessages(reporter, input.user, input.messageIds)).map(
        (m) => expiredView(m, at),
      );
      const found = new Set(messages.map((m) => m.id));
      const missing = input.messageIds.find((id) => !found.has(id));
      // The same answer whether the id exists elsewhere or not at all: it reveals nothing.
      if (missing !== undefined)
        throw new DuetError(
          "invalid_input",
          `messageIds: ${missing} is not a message of your conversation with ${input.user}.`,
        );
    } else {
      messages = await this.sources.latest(reporter, input.user, EVIDENCE_WHEN_NONE_NAMED);
    }
    const now = Date.now();
    const report: Report = {
      id: this.ids.next(now),
      reporter,
      user: input.user,
      reason: input.reason,
      note: input.note,
      messageIds: input.messageIds,
      messages,
      status: "open",
      createdAt: now,
      resolvedAt: null,
      action: null,
    };
    await this.sources.store.create(report);
    await this.sources.created(report);
    return report;
  }

  list(status: ReportStatus, limit: number, before?: string): Promise<Report[]> {
    return this.sources.store.list(status, limit, before);
  }

  async resolve(id: string, action: string | null): Promise<Report> {
    const report = await this.sources.store.resolve(id, action, Date.now());
    if (report === null) throw new DuetError("not_found", "No such report.");
    return report;
  }
}
