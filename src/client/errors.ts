import { type Advice, ERROR_ADVICE } from "./error-table.js";

/** A failure that may pass: the request may succeed later, and the link should come back. */
const PASSING: Advice = { retry: true, reconnect: true };

/**
 * The SDK's own codes, for failures with no answer from duet: no answer at all, or none in time,
 * or the WebSocket closed before it answered. (duet's codes come from its registry, error-table.ts.)
 */
const SDK_ADVICE: ReadonlyMap<string, Advice> = new Map([
  ["network", PASSING],
  ["timeout", PASSING],
  ["connection_lost", PASSING],
]);

/**
 * An answer that is not duet's (a proxy's page, a load balancer's 502) has only its status: HTTP's
 * own meaning of it. 401 asks for credentials; 408, 429 and 5xx pass; other refusals are final.
 */
function adviceForStatus(status: number): Advice {
  if (status === 401) return { retry: false, reconnect: "new_token" };
  if (status === 408 || status === 429 || status >= 500) return PASSING;
  return { retry: false, reconnect: true };
}

/**
 * Every error the SDK reports. `code` is the server's error code (SPEC section 4) when the server
 * answered, or one of the SDK's own: `network`, `timeout`, `connection_lost`, `closed`,
 * `bad_response`, `no_token`, and from `enablePush()`/`disablePush()` `push_unsupported` and
 * `push_denied`.
 */
export class DuetClientError extends Error {
  readonly code: string;
  /** HTTP status, when the error came from an HTTP answer. */
  readonly status?: number;
  /** Milliseconds the server asked us to wait (Retry-After). */
  readonly retryAfterMs?: number;
  /**
   * Why, when the server said (`message_rejected`: `"contact_info"` for the contact-info screen,
   * or the moderation hook's reason).
   */
  readonly reason?: string;

  constructor(code: string, message: string, status?: number, retryAfterMs?: number, reason?: string) {
    super(message);
    this.name = "DuetClientError";
    this.code = code;
    if (status !== undefined) this.status = status;
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
    if (reason !== undefined) this.reason = reason;
  }

  /** Whether sending the same request again (with the same clientMsgId) may succeed. */
  get retryable(): boolean {
    return adviceOf(this).retry;
  }
}

/** A send the server refused for its content (SPEC 12): not retried; `reason` says why. */
export type MessageRejectedError = DuetClientError & { code: "message_rejected"; reason: string };

export function isMessageRejected(err: unknown): err is MessageRejectedError {
  return err instanceof DuetClientError && err.code === "message_rejected";
}

/**
 * The two users are not matched (SPEC 11: `--pairs matched`, or a pair the app unmatched): a send,
 * typing, read or presence between them is refused, and a send is not retried.
 */
export type NotMatchedError = DuetClientError & { code: "not_matched" };

export function isNotMatched(err: unknown): err is NotMatchedError {
  return err instanceof DuetClientError && err.code === "not_matched";
}

export function asClientError(err: unknown): DuetClientError {
  if (err instanceof DuetClientError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DuetClientError("network", message);
}

/**
 * What to do about an error: the registry's advice for duet's codes (or the SDK's for its own);
 * for an answer that is not duet's, what its HTTP status means; anything else is final for the
 * request and leaves the connection alone.
 */
export function adviceOf(error: DuetClientError): Advice {
  const advice = ERROR_ADVICE.get(error.code) ?? SDK_ADVICE.get(error.code);
  if (advice !== undefined) return advice;
  return error.status === undefined ? { retry: false, reconnect: true } : adviceForStatus(error.status);
}
