/**
 * What a client should do about an error. `retry`: the same request, sent again later (after
 * `Retry-After`, with the same `clientMsgId`), may succeed. `reconnect`: after this error ended a
 * connection or refused one, connect again (with backoff); `"new_token"`: only with a new token
 * (the SDK asks the app's getToken; with a fixed token it stops); false: do not come back, the
 * user may not be connected (or is connected elsewhere). An error about one request only says
 * true: the connection is not at fault.
 */
export interface ClientAdvice {
  retry: boolean;
  reconnect: boolean | "new_token";
}

/** About one request only: do not send it again as is; the connection is not at fault. */
const REQUEST = { retry: false, reconnect: true } as const;
/** Passing: the same request may succeed later, and a connection should come back. */
const TRANSIENT = { retry: true, reconnect: true } as const;
/** The token: get a new one, then connect again. */
const NEW_TOKEN = { retry: false, reconnect: "new_token" } as const;
/** This user may not go on: do not retry, do not reconnect. */
const STOP = { retry: false, reconnect: false } as const;

interface ErrorEntry extends ClientAdvice {
  status: number;
  message: string;
  close?: number;
}

/**
 * Every error duet reports, defined once: its wire `code`, HTTP status, WebSocket close code (for
 * the errors that end a connection), a message for a person, and what a client should do about
 * it. docs/ERRORS.md lists the same table; test/errors.test.ts keeps the two in step. The SDK
 * reads a copy generated from it (src/client/error-table.ts, `npm run docs`).
 */
export const ERRORS = {
  invalid_json: { status: 400, message: "The body is not valid JSON.", ...REQUEST },
  invalid_input: { status: 400, message: "The request is invalid.", ...REQUEST },
  invalid_utf8: { status: 400, message: "The body is not valid UTF-8.", ...REQUEST },
  unsupported_media_type: { status: 415, message: "Send the body as application/json.", ...REQUEST },
  headers_too_large: { status: 431, message: "The request line or headers are too large.", ...REQUEST },
  self_message: { status: 400, message: "You cannot send a message to yourself.", ...REQUEST },
  unauthorized: { status: 401, message: "A valid bearer token is required.", ...NEW_TOKEN },
  token_expired: { status: 401, message: "The token has expired.", ...NEW_TOKEN },
  forbidden: { status: 403, message: "You are not allowed to do that.", ...STOP },
  blocked: { status: 403, message: "The recipient does not accept messages from you.", ...REQUEST },
  not_matched: { status: 403, message: "You are not matched with this user.", ...REQUEST },
  user_banned: { status: 401, message: "This user is banned.", close: 4004, ...STOP },
  user_erased: { status: 401, message: "This user was erased.", close: 4003, ...STOP },
  not_found: { status: 404, message: "No such resource.", ...REQUEST },
  method_not_allowed: { status: 405, message: "Method not allowed on this resource.", ...REQUEST },
  request_timeout: { status: 408, message: "The request was not completed in time.", ...TRANSIENT },
  conflict: { status: 409, message: "The request conflicts with the current state.", ...REQUEST },
  edit_window_closed: { status: 409, message: "The message can no longer be edited.", ...REQUEST },
  unsend_window_closed: { status: 409, message: "The message can no longer be unsent.", ...REQUEST },
  too_many_reactions: { status: 409, message: "Too many different reactions on this message.", ...REQUEST },
  payload_too_large: { status: 413, message: "The body is too large.", close: 1009, ...REQUEST },
  rate_limited: { status: 429, message: "Too many requests; retry later.", close: 1008, ...TRANSIENT },
  too_many_connections: {
    status: 429,
    message: "Too many connections for this user.",
    close: 4429,
    ...TRANSIENT,
  },
  host_not_allowed: {
    status: 400,
    message: "Images and links may only point to the allowed hosts.",
    ...REQUEST,
  },
  message_rejected: { status: 422, message: "The message was not accepted.", ...REQUEST },
  moderation_unavailable: {
    status: 503,
    message: "The message could not be checked; retry later.",
    ...TRANSIENT,
  },
  store_unavailable: {
    status: 503,
    message: "The message store is unavailable; retry later.",
    close: 1011,
    ...TRANSIENT,
  },
  overloaded: { status: 503, message: "The server is overloaded; retry later.", close: 1013, ...TRANSIENT },
  shutting_down: { status: 503, message: "The server is restarting; reconnect.", close: 1012, ...TRANSIENT },
  slow_consumer: {
    status: 503,
    message: "The connection could not keep up and was closed.",
    close: 4008,
    ...TRANSIENT,
  },
  replaced: { status: 409, message: "Closed: this user opened too many connections.", close: 4009, ...STOP },
  disconnected: { status: 409, message: "Closed by the server API.", close: 4010, ...REQUEST },
  internal: { status: 500, message: "Internal error.", ...TRANSIENT },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * WebSocket close codes that name no error of the registry: the protocol's own. duet does not
 * send them itself, but a client sees them (a proxy's or a library's close, a cut link).
 */
export const OTHER_CLOSE_CODES = {
  1000: { meaning: "Normal closure (a proxy's, or a WebSocket library's).", ...TRANSIENT },
  1001: { meaning: "Going away: a proxy or a server is stopping.", ...TRANSIENT },
  1006: { meaning: "No close frame: the link was cut (network loss, a refused upgrade).", ...TRANSIENT },
} as const satisfies Record<number, ClientAdvice & { meaning: string }>;

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
