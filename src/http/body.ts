import type { IncomingMessage } from "node:http";
import { DuetError } from "../core/errors.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a JSON body: Content-Length is checked before anything is buffered, and the bytes are
 * counted as they stream in (a chunked body has no declared length). Bad UTF-8 is refused rather
 * than replaced, so nothing stored differs from what the client sent.
 */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers["content-type"];
  if (type !== undefined && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
    return Promise.reject(new DuetError("unsupported_media_type"));
  }
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit)
    return Promise.reject(new DuetError("payload_too_large"));
  // Plain listeners rather than `for await`: an async iterator costs several promises per body,
  // and nearly every body here is one small chunk.
  if (req.destroyed) return Promise.reject(new DuetError("invalid_input", "The request was closed."));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: DuetError | null) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAbort);
      req.off("close", onAbort);
      if (err) return reject(err);
      try {
        resolve(parseJson(chunks, size));
      } catch (parseError) {
        reject(parseError);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Stop reading; the 413 closes the connection (respond.ts) once it is written.
      req.pause();
      done(new DuetError("payload_too_large"));
    };
    const onEnd = () => done(null);
    // The client went away or sent broken framing mid-body: its fault, not an internal error.
    const onAbort = () => done(new DuetError("invalid_input", "The body ended before it was complete."));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAbort);
    req.on("close", onAbort);
  });
}

function parseJson(chunks: Buffer[], size: number): unknown {
  if (size === 0) throw new DuetError("invalid_json", "The body is empty; send a JSON object.");
  let text: string;
  try {
    text = utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
  } catch {
    throw new DuetError("invalid_utf8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new DuetError("invalid_json");
  }
}
