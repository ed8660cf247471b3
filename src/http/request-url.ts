/**
 * What routes read of a request's URL: its path and its query's values (`URL` is one). A
 * WebSocket upgrade is read through `requestUrl`, which skips building a `URL` and its
 * `URLSearchParams` when the request's path and query are plain: every reconnect of a client
 * pays for this (its token alone is a few hundred characters of query), and in a reconnect
 * storm that parse was ~2.5 % of the server's time.
 */
export interface RequestUrl {
  readonly pathname: string;
  readonly searchParams: QueryValues;
}

export interface QueryValues {
  /** The first value of `name`, decoded; null when absent (URLSearchParams.get). */
  get(name: string): string | null;
}

/**
 * A path WHATWG URL parsing leaves as it is: absolute, not starting with `//` (which would name
 * a host), no `.` segments, backslashes, percent escapes or characters it would escape.
 */
const PLAIN_PATH = /^\/(?:[A-Za-z0-9_~-][A-Za-z0-9_~/-]*)?$/;
/** A query URLSearchParams reads as it is written: no `+`, `%`, `#` or characters URL escapes. */
const PLAIN_QUERY = /^[A-Za-z0-9._~=&-]*$/;

/** URLSearchParams.get over a plain query string, read in place (no pairs are built). */
class PlainQuery implements QueryValues {
  private readonly query: string;

  constructor(query: string) {
    this.query = query;
  }

  get(name: string): string | null {
    const q = this.query;
    let start = 0;
    while (start < q.length) {
      let end = q.indexOf("&", start);
      if (end === -1) end = q.length;
      if (end > start) {
        const eq = q.indexOf("=", start);
        const nameEnd = eq === -1 || eq > end ? end : eq;
        if (nameEnd - start === name.length && q.startsWith(name, start)) {
          return nameEnd === end ? "" : q.slice(nameEnd + 1, end);
        }
      }
      start = end + 1;
    }
    return null;
  }
}

/** The URL of a request (`req.url`): read in place when plain, else parsed as `URL`. */
export function requestUrl(raw: string): RequestUrl {
  const at = raw.indexOf("?");
  const path = at === -1 ? raw : raw.slice(0, at);
  const query = at === -1 ? "" : raw.slice(at + 1);
  if (PLAIN_PATH.test(path) && PLAIN_QUERY.test(query)) {
    return { pathname: path, searchParams: new PlainQuery(query) };
  }
  return new URL(raw, "http://duet.invalid");
}
