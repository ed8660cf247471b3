import type { IncomingMessage } from "node:http";
import { DuetError } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import type { ResumeFrom } from "../core/stream.js";
import type { RequestUrl } from "../http/request-url.js";

export interface StreamRequest {
  user: string;
  cursor: ResumeFrom;
  /**
   * The URL's `epoch` (the cursor's may come from `Last-Event-ID` instead). When it is not the
   * store's, the client keeps a stale URL: its SSE ids name their epoch (see serveStream).
   */
  urlEpoch?: string;
}

const SEQ_PATTERN = `\\d{1,${LIMITS.integerDigits}}`;
const EPOCH_PATTERN = `[A-Za-z0-9-]{1,${LIMITS.epochLength}}`;
const SEQ = new RegExp(`^${SEQ_PATTERN}$`);
const EPOCH = new RegExp(`^${EPOCH_PATTERN}$`);
/** An SSE id that names its epoch: `<epoch>:<seq>` (see serveStream). */
const EPOCH_AND_SEQ = new RegExp(`^(${EPOCH_PATTERN}):(${SEQ_PATTERN})$`);

/**
 * The cursor: `since`/`epoch` from the query. For SSE, `Last-Event-ID` (the browser's own resume)
 * wins: a plain seq replaces `since`; `<epoch>:<seq>` replaces both, so a client whose URL still
 * holds the epoch it was reset from resumes in the new epoch rather than being reset again.
 */
export function parseStreamQuery(
  url: RequestUrl,
  req: IncomingMessage,
  useLastEventId: boolean,
): { cursor: ResumeFrom; urlEpoch?: string } {
  const cursor: ResumeFrom = {};
  let since = url.searchParams.get("since");
  let epoch = url.searchParams.get("epoch");
  const urlEpoch = epoch;
  const lastEventId = req.headers["last-event-id"];
  if (useLastEventId && typeof lastEventId === "string" && lastEventId !== "") {
    const tagged = EPOCH_AND_SEQ.exec(lastEventId);
    if (tagged) {
      epoch = tagged[1] as string;
      since = tagged[2] as string;
    } else since = lastEventId;
  }
  if (since !== null && since !== "") {
    if (!SEQ.test(since)) throw new DuetError("invalid_input", "since must be a non-negative integer.");
    cursor.seq = Number(since);
  }
  if (epoch !== null && epoch !== "") {
    if (!EPOCH.test(epoch)) throw new DuetError("invalid_input", "epoch is not valid.");
    cursor.epoch = epoch;
  }
  if (urlEpoch !== null && urlEpoch !== "") {
    if (!EPOCH.test(urlEpoch)) throw new DuetError("invalid_input", "epoch is not valid.");
    return { cursor, urlEpoch };
  }
  return { cursor };
}
