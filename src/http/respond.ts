import type { ServerResponse } from "node:http";
import type { DuetError } from "../core/errors.js";

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendRawJson(res, status, JSON.stringify(body));
}

/** An answer already serialised. */
export function sendRawJson(res: ServerResponse, status: number, json: string): void {
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(json),
    "cache-control": "no-store",
  });
  res.end(json);
}

export function sendError(res: ServerResponse, err: DuetError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err.retryAfter !== undefined) res.setHeader("retry-after", String(err.retryAfter));
  // A refused body may not have been read to its end: the connection cannot be reused.
  if (err.code === "payload_too_large") res.setHeader("connection", "close");
  sendJson(res, err.status, { error: err.toJSON() });
}
