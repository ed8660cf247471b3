import type { IncomingMessage } from "node:http";
import { DuetError } from "../core/errors.js";
import type { Cursor } from "../core/stream.js";

export interface StreamRequest {
  user: string;
  cursor: Cursor;
}

const SEQ = /^\d{1,15}$/;
const EPOCH = /^[A-Za-z0-9-]{1,64}$/;

/** `since`/`epoch` from the query; for SSE, `Last-Event-ID` (the browser's own resume) wins. */
export function parseCursor(url: URL, req: IncomingMessage, useLastEventId: boolean): Cursor {
  const cursor: Cursor = {};
  let since = url.searchParams.get("since");
  const lastEventId = req.headers["last-event-id"];
  if (useLastEventId && typeof lastEventId === "string" && lastEventId !== "") since = lastEventId;
  if (since !== null && since !== "") {
    if (!SEQ.test(since)) throw new DuetError("invalid_input", "since must be a non-negative integer.");
    cursor.since = Number(since);
  }
  const epoch = url.searchParams.get("epoch");
  if (epoch !== null && epoch !== "") {
    if (!EPOCH.test(epoch)) throw new DuetError("invalid_input", "epoch is not valid.");
    cursor.epoch = epoch;
  }
  return cursor;
}
