import type { IncomingMessage } from "node:http";
import { DuetError } from "../core/errors.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a JSON body: Content-Length is checked before anything is buffered, and the bytes are
 * counted as they stream in (a chunked body has no declared length). Bad UTF-8 is refused rather
 * than replaced, so nothing stored differs from what the client sent.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers["content-type"];
  if (type !== undefined && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
    throw new DuetError("unsupported_media_type");
  }
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) throw new DuetError("payload_too_large");
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new DuetError("payload_too_large");
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof DuetError) throw err;
    // The client went away or sent broken framing mid-body: its fault, not an internal error.
    throw new DuetError("invalid_input", "The body ended before it was complete.");
  }
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
