import type { ServerResponse } from "node:http";

/**
 * The CORS headers of every answer (any origin may call duet: requests carry a bearer token, not
 * cookies). Set one by one (`setCors`), node keeps them on the response in a headers object of
 * its own, about 1 KB, for as long as the response lives: nothing for an ordinary request, a lot
 * for the held ones (SSE, NDJSON, long-polls), which instead pass `CORS_HEADER_LIST` with the rest
 * of their headers to writeHead in one array, which node writes out and does not keep.
 */
export const CORS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, content-type, last-event-id",
  "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
  "access-control-max-age": "600",
});

/** CORS_HEADERS as writeHead's flat array form: name, value, name, value... */
export const CORS_HEADER_LIST: readonly string[] = Object.freeze(Object.entries(CORS_HEADERS).flat());

/** The paths whose answers are held open (see above): they write CORS_HEADER_LIST themselves. */
export const HELD_PATHS: ReadonlySet<string> = new Set(["/v1/events", "/v1/stream", "/v1/poll"]);

export function setCors(res: ServerResponse): void {
  for (const name in CORS_HEADERS) res.setHeader(name, CORS_HEADERS[name] as string);
}
