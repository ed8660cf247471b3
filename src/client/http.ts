import { adviceOf, DuetClientError } from "./errors.js";

export type FetchLike = typeof fetch;

/**
 * Spread into every fetch's options: browsers must not answer an event or a poll from their HTTP
 * cache. Node's fetch has no cache and its types leave the option out; the SDK compiles against
 * both (the DOM lib in its own config, Node's types in the tests), hence a spread, not a literal.
 */
export const NO_STORE: { cache?: "no-store" } = { cache: "no-store" };

/** Where the client's token comes from: a fixed string, or a function asked again on 401. */
export class TokenSource {
  private current: string | undefined;
  private pending: Promise<string> | undefined;
  private readonly getToken: (() => string | Promise<string>) | undefined;

  constructor(token: string | undefined, getToken: (() => string | Promise<string>) | undefined) {
    if (token === undefined && getToken === undefined) {
      throw new DuetClientError("no_token", "connect() needs `token` or `getToken`.");
    }
    this.current = token;
    this.getToken = getToken;
  }

  get canRefresh(): boolean {
    return this.getToken !== undefined;
  }

  async get(): Promise<string> {
    return this.current ?? this.refresh();
  }

  /** Asks `getToken` for a new token (one call at a time, shared by concurrent callers). */
  refresh(): Promise<string> {
    const getToken = this.getToken;
    if (getToken === undefined) {
      return Promise.reject(new DuetClientError("unauthorized", "The token was refused.", 401));
    }
    this.pending ??= (async () => {
      try {
        const token = await getToken();
        if (typeof token !== "string" || token === "") {
          throw new DuetClientError("no_token", "getToken() returned no token.");
        }
        this.current = token;
        return token;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}

/** Joins the server's base URL (which may carry a path prefix) and an API path. */
export function endpoint(base: string, path: string, query?: Record<string, string | number | undefined>) {
  const url = new URL(base.replace(/\/+$/, "") + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

export function retryAfterMs(res: Response): number | undefined {
  const value = res.headers.get("retry-after");
  if (value === null) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** Turns a non-2xx answer into a DuetClientError carrying the server's code and message. */
export async function errorFrom(res: Response): Promise<DuetClientError> {
  let code = `http_${res.status}`;
  let message = `HTTP ${res.status}`;
  let reason: string | undefined;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown; reason?: unknown } };
    if (typeof body.error?.code === "string") code = body.error.code;
    if (typeof body.error?.message === "string") message = body.error.message;
    if (typeof body.error?.reason === "string") reason = body.error.reason;
  } catch {
    // not duet's JSON (a proxy's page, say): keep the status
  }
  return new DuetClientError(code, message, res.status, retryAfterMs(res), reason);
}

/** JSON requests with the user's bearer token; a refused token gets one retry with a fresh one. */
export class HttpApi {
  private readonly base: string;
  private readonly tokens: TokenSource;
  private readonly fetch: FetchLike;
  private readonly timeoutMs: number;

  constructor(base: string, tokens: TokenSource, fetchImpl: FetchLike, timeoutMs: number) {
    this.base = base;
    this.tokens = tokens;
    this.fetch = fetchImpl;
    this.timeoutMs = timeoutMs;
  }

  async request<T>(
    method: string,
    path: string,
    options: { query?: Record<string, string | number | undefined>; body?: unknown } = {},
  ): Promise<T> {
    let token = await this.tokens.get();
    for (let attempt = 0; ; attempt++) {
      const res = await this.once(method, path, token, options);
      if (!res.ok) {
        const error = await errorFrom(res);
        // A refused token gets one retry with a new one, if the registry says a new one may help.
        if (attempt > 0 || !this.tokens.canRefresh || adviceOf(error).reconnect !== "new_token") throw error;
        token = await this.tokens.refresh();
        continue;
      }
      try {
        return (await res.json()) as T;
      } catch {
        throw new DuetClientError("bad_response", `${method} ${path}: the answer is not JSON.`, res.status);
      }
    }
  }

  private async once(
    method: string,
    path: string,
    token: string,
    options: { query?: Record<string, string | number | undefined>; body?: unknown },
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      return await this.fetch(endpoint(this.base, path, options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: abort.signal,
        ...NO_STORE,
      });
    } catch (err) {
      if (abort.signal.aborted) throw new DuetClientError("timeout", `${method} ${path} timed out.`);
      throw new DuetClientError("network", `${method} ${path}: ${err instanceof Error ? err.message : err}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
