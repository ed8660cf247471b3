import type { Advice } from "./error-table.js";
import { CLOSE_ADVICE } from "./error-table.js";
import { adviceOf, DuetClientError } from "./errors.js";
import { endpoint, errorFrom, type FetchLike, NO_STORE, type TokenSource } from "./http.js";
import type { TransportEnd } from "./transports.js";

/**
 * What a failed connection attempt means. `wait`: try the same transport again after a backoff;
 * `refused`: this transport does not get through here, fall back to the next; `token`: get a new
 * token first; `stop`: the server said not to come back.
 */
export type Verdict = "wait" | "refused" | "token" | "stop";

/**
 * The server's word on how a link or an attempt ended, from the error registry's table: the
 * answer's error code, else the close code. Null when the end says nothing (no answer, a cut
 * link, the silence watchdog): then only a probe can tell.
 */
export function adviceOfEnd(end: TransportEnd): Advice | null {
  const error = end.error;
  // An HTTP answer (a refused stream or poll, or a poll refused after it had worked).
  if (error?.status !== undefined) return adviceOf(error);
  // No answer, or one that is not duet's (a WebSocket upgrade refused on the way: 1006).
  if (end.kind !== "closed" || end.closeCode === undefined) return null;
  // A WebSocket close: duet's reason names its error; a close by anyone else has only its code.
  if (error !== undefined && error.code !== "connection_lost") return adviceOf(error);
  return CLOSE_ADVICE.get(end.closeCode) ?? null;
}

/** An attempt that never got online: what the table says to do. */
export function verdictOf(advice: Advice, end: TransportEnd): Verdict {
  if (advice.reconnect === false) return "stop";
  if (advice.reconnect === "new_token") return "token";
  if (advice.retry) return "wait";
  // A refusal that will not pass: on HTTP, this transport's request does not get through (a
  // proxy's 404, a blocked route); a close by the server before hello is the server's business.
  return end.kind === "http" ? "refused" : "wait";
}

/**
 * Is the server reachable, does it accept our token, and does it admit connections now? A short
 * poll says all three: it passes the same admission check as every transport, so a server
 * shedding load answers 503 with Retry-After (a browser cannot see that status on a refused
 * WebSocket upgrade, and without this would take it for a proxy that blocks WebSockets). A
 * reachable server that answers the poll means the failed transport was refused on the way.
 */
export async function probe(
  base: string,
  tokens: TokenSource,
  fetchImpl: FetchLike,
  timeoutMs: number,
): Promise<{ verdict: Verdict; retryAfterMs: number; error?: DuetClientError }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const token = await tokens.get();
    const res = await fetchImpl(endpoint(base, "/v1/poll", { timeout: 0 }), {
      headers: { authorization: `Bearer ${token}` },
      signal: abort.signal,
      ...NO_STORE,
    });
    if (res.ok) {
      await res.body?.cancel().catch(() => {});
      return { verdict: "refused", retryAfterMs: 0 };
    }
    const error = await errorFrom(res);
    const advice = adviceOf(error);
    // The poll itself is not the transport that failed: only a word about the user counts.
    const verdict = advice.reconnect === false ? "stop" : advice.reconnect === "new_token" ? "token" : "wait";
    return { verdict, retryAfterMs: error.retryAfterMs ?? 0, error };
  } catch {
    return { verdict: "wait", retryAfterMs: 0 };
  } finally {
    clearTimeout(timer);
  }
}

/** The error to report when the server refused the token and none was given. */
export function tokenRefused(): DuetClientError {
  return new DuetClientError("unauthorized", "The token was refused.", 401);
}
