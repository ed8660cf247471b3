/**
 * Every error duet reports, defined once: its wire `code`, HTTP status, WebSocket close code (for
 * the errors that end a connection) and a message for a person. docs/ERRORS.md lists the same
 * table; test/errors.test.ts keeps the two in step.
 */
export const ERRORS = {
  invalid_json: { status: 400, message: "The body is not valid JSON." },
  invalid_input: { status: 400, message: "The request is invalid." },
  invalid_utf8: { status: 400, message: "The body is not valid UTF-8." },
  unsupported_media_type: { status: 415, message: "Send the body as application/json." },
  headers_too_large: { status: 431, message: "The request line or headers are too large." },
  self_message: { status: 400, message: "You cannot send a message to yourself." },
  unauthorized: { status: 401, message: "A valid bearer token is required." },
  token_expired: { status: 401, message: "The token has expired." },
  forbidden: { status: 403, message: "You are not allowed to do that." },
  blocked: { status: 403, message: "The recipient does not accept messages from you." },
  not_matched: { status: 403, message: "You are not matched with this user." },
  user_banned: { status: 401, message: "This user is banned.", close: 4004 },
  not_found: { status: 404, message: "No such resource." },
  method_not_allowed: { status: 405, message: "Method not allowed on this resource." },
  request_timeout: { status: 408, message: "The request was not completed in time." },
  conflict: { status: 409, message: "The request conflicts with the current state." },
  edit_window_closed: { status: 409, message: "The message can no longer be edited." },
  unsend_window_closed: { status: 409, message: "The message can no longer be unsent." },
  too_many_reactions: { status: 409, message: "Too many different reactions on this message." },
  payload_too_large: { status: 413, message: "The body is too large.", close: 1009 },
  rate_limited: { status: 429, message: "Too many requests; retry later.", close: 1008 },
  too_many_connections: { status: 429, message: "Too many connections for this user.", close: 4429 },
  host_not_allowed: { status: 400, message: "Images and links may only point to the allowed hosts." },
  message_rejected: { status: 422, message: "The message was not accepted." },
  moderation_unavailable: { status: 503, message: "The message could not be checked; retry later." },
  store_unavailable: { status: 503, message: "The message store is unavailable; retry later.", close: 1011 },
  overloaded: { status: 503, message: "The server is overloaded; retry later.", close: 1013 },
  shutting_down: { status: 503, message: "The server is restarting; reconnect.", close: 1012 },
  slow_consumer: { status: 503, message: "The connection could not keep up and was closed.", close: 4008 },
  replaced: { status: 409, message: "Closed: this user opened too many connections.", close: 4009 },
  disconnected: { status: 409, message: "Closed by the server API.", close: 4010 },
  internal: { status: 500, message: "Internal error." },
} as const satisfies Record<string, { status: number; message: string; close?: number }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Codes whose detail speaks of the machinery ("Redis: Stream isn't writeable and
 * enableOfflineQueue options is false"): the detail is for the operator's log (`detail`), the
 * client always gets the registry's message.
 */
const DETAIL_FOR_LOG_ONLY: ReadonlySet<ErrorCode> = new Set(["store_unavailable", "internal"]);

/** The one error type the core, stores and transports throw for anything a client should see. */
export class DuetError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds, for 429/503. */
  readonly retryAfter?: number;
  /** What went wrong underneath, for the log only (store_unavailable, internal). */
  readonly detail?: string;
  /**
   * Why, in a word a program can act on (`message_rejected`: "contact_info" or the moderation
   * hook's reason). Sent on the wire beside `code` and `message` when set.
   */
  readonly reason?: string;

  constructor(code: ErrorCode, message?: string, retryAfter?: number, reason?: string) {
    const logOnly = message !== undefined && DETAIL_FOR_LOG_ONLY.has(code);
    super(logOnly ? ERRORS[code].message : (message ?? ERRORS[code].message));
    if (logOnly) this.detail = message;
    this.name = "DuetError";
    this.code = code;
    this.status = ERRORS[code].status;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
    if (reason !== undefined) this.reason = reason;
  }

  toJSON(): { code: ErrorCode; message: string; reason?: string } {
    return this.reason === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, reason: this.reason };
  }
}

export function closeCodeOf(code: ErrorCode): number {
  const entry = ERRORS[code];
  return "close" in entry ? entry.close : 1011;
}

/** Anything thrown that is not a DuetError becomes `internal` (and is logged by the caller). */
export function toDuetError(err: unknown): DuetError {
  return err instanceof DuetError ? err : new DuetError("internal");
}
