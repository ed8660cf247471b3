/** Codes of server errors worth retrying (the same request may succeed later). */
const RETRYABLE_CODES = new Set([
  "rate_limited",
  "store_unavailable",
  "overloaded",
  "shutting_down",
  "internal",
  "too_many_connections",
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

  constructor(code: string, message: string, status?: number, retryAfterMs?: number) {
    super(message);
    this.name = "DuetClientError";
    this.code = code;
    if (status !== undefined) this.status = status;
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
  }

  /** Whether sending the same request again (with the same clientMsgId) may succeed. */
  get retryable(): boolean {
    if (this.status !== undefined) return this.status === 408 || this.status === 429 || this.status >= 500;
    return RETRYABLE_CODES.has(this.code);
  }
}

export function asClientError(err: unknown): DuetClientError {
  if (err instanceof DuetClientError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DuetClientError("network", message);
}
