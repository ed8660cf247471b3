/** Codes of server errors worth retrying (the same request may succeed later). */
const RETRYABLE_CODES = new Set([
  "rate_limited",
  "store_unavailable",
  "overloaded",
  "shutting_down",
  "internal",
  "too_many_connections",
  "moderation_unavailable",
  // client-side codes
  "network",
  "timeout",
  "connection_lost",
]);

/**
 * Every error the SDK reports. `code` is the server's error code (SPEC section 4) when the server
 * answered, or one of the SDK's own: `network`, `timeout`, `connection_lost`, `closed`,
 * `bad_response`, `no_token`.
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
    if (this.status !== undefined) return this.status === 408 || this.status === 429 || this.status >= 500;
    return RETRYABLE_CODES.has(this.code);
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
