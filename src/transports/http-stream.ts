import type { ServerResponse } from "node:http";
import type { Chat } from "../core/chat.js";
import type { ErrorCode } from "../core/errors.js";
import type { Sink, TransportKind } from "../core/ports/sink.js";
import { CORS_HEADER_LIST } from "../http/cors.js";
import type { StreamRequest } from "./cursor.js";
import { drained } from "./drained.js";

/** How one streaming format frames events and keep-alives. */
interface Framing {
  kind: TransportKind;
  /** The response's headers, made once (writeHead's array form: node keeps no copy per response). */
  headers: readonly string[];
  /** `id` is the SSE id (`<seq>`, or `<epoch>:<seq>`), null for none. */
  event(json: string, id: string | number | null): string;
  keepAlive: string;
}

function responseHeaders(contentType: string): readonly string[] {
  return Object.freeze([
    ...CORS_HEADER_LIST,
    "content-type",
    contentType,
    "cache-control",
    "no-cache, no-transform",
    // Tells nginx (and proxies that honour it) not to buffer: events must leave at once.
    "x-accel-buffering",
    "no",
    "connection",
    "keep-alive",
  ]);
}

const SSE: Framing = {
  kind: "sse",
  headers: responseHeaders("text/event-stream; charset=utf-8"),
  event: (json, id) => (id === null ? `data: ${json}\n\n` : `id: ${id}\ndata: ${json}\n\n`),
  keepAlive: ": ping\n\n",
};

const NDJSON: Framing = {
  kind: "stream",
  headers: responseHeaders("application/x-ndjson; charset=utf-8"),
  event: (json) => `${json}\n`,
  keepAlive: '{"type":"ping"}\n',
};

/** A held-open response written to as events arrive: SSE or NDJSON. */
class ResponseSink implements Sink {
  readonly kind: TransportKind;
  private readonly res: ServerResponse;
  private readonly framing: Framing;
  private readonly bufferLimit: number;
  /**
   * SSE: whether the ids name the store's epoch (`<epoch>:<seq>`): on a connection whose URL holds
   * another epoch, and from a `reset` on. A browser resumes with the last id, so its next request
   * names the epoch it was reset to and is not reset again (the URL stays as the page wrote it).
   */
  private tagEpoch: boolean;
  private readonly chat: Chat;
  private corked = false;
  /** The last keep-alive is still queued in this process (not yet handed to the kernel). */
  private beatQueued = false;

  constructor(res: ServerResponse, framing: Framing, bufferLimit: number, chat: Chat, tagEpoch: boolean) {
    this.res = res;
    this.framing = framing;
    this.kind = framing.kind;
    this.bufferLimit = bufferLimit;
    this.chat = chat;
    this.tagEpoch = tagEpoch;
  }

  write(json: string, seq: number | null): void {
    if (seq === null || this.kind !== "sse") {
      this.raw(this.framing.event(json, seq));
      return;
    }
    if (!this.tagEpoch && json.startsWith('{"type":"reset"')) this.tagEpoch = true;
    this.raw(this.framing.event(json, this.tagEpoch ? `${this.chat.epoch}:${seq}` : seq));
  }

  private raw(chunk: string, flushed?: () => void): void {
    const res = this.res;
    if (res.writableEnded || res.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      res.cork();
      process.nextTick(() => {
        this.corked = false;
        res.uncork();
      });
    }
    res.write(chunk, flushed);
    if (res.writableLength > this.bufferLimit) this.close("slow_consumer");
  }

  whenWritable(): Promise<void> | undefined {
    if (!this.res.writableNeedDrain) return undefined;
    return drained(this.res);
  }

  close(reason: ErrorCode): void {
    if (reason === "slow_consumer") this.res.destroy();
    else if (!this.res.writableEnded) this.res.end();
  }

  /**
   * The shared sweep's keep-alive. These transports have no way back from the client, so a dead
   * (half-open) peer shows only as writes that stop leaving once the socket buffers are full: a
   * keep-alive still queued at the next sweep means nothing left for a whole interval, and the
   * stream is closed like a slow consumer (the client resumes from its cursor).
   */
  heartbeat(): void {
    if (this.beatQueued) {
      this.close("slow_consumer");
      return;
    }
    this.beatQueued = true;
    this.raw(this.framing.keepAlive, () => {
      this.beatQueued = false;
    });
  }
}

/** Starts an SSE (`sse`) or NDJSON (`stream`) response for an authenticated request. */
export function serveStream(
  chat: Chat,
  res: ServerResponse,
  request: StreamRequest,
  kind: "sse" | "stream",
  bufferLimit: number,
) {
  const framing = kind === "sse" ? SSE : NDJSON;
  res.writeHead(200, framing.headers as string[]);
  res.flushHeaders();
  const staleUrl = kind === "sse" && request.urlEpoch !== undefined && request.urlEpoch !== chat.epoch;
  const sink = new ResponseSink(res, framing, bufferLimit, chat, staleUrl);
  const { stream, started } = chat.openStream(request.user, request.cursor, sink);
  // A bound method rather than a closure: half the bytes, and no context keeping this call's
  // variables (the request, its cursor) alive for as long as the stream is open.
  res.on("close", stream.stop.bind(stream));
  return started.catch(() => sink.close("store_unavailable"));
}
