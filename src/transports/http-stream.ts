import type { ServerResponse } from "node:http";
import type { Chat } from "../core/chat.js";
import type { ErrorCode } from "../core/errors.js";
import type { Sink, TransportKind } from "../core/ports/sink.js";
import type { StreamRequest } from "./cursor.js";
import { drained } from "./drained.js";

/** How one streaming format frames events and keep-alives. */
interface Framing {
  kind: TransportKind;
  contentType: string;
  event(json: string, seq: number | null): string;
  keepAlive: string;
}

const SSE: Framing = {
  kind: "sse",
  contentType: "text/event-stream; charset=utf-8",
  event: (json, seq) => (seq === null ? `data: ${json}\n\n` : `id: ${seq}\ndata: ${json}\n\n`),
  keepAlive: ": ping\n\n",
};

const NDJSON: Framing = {
  kind: "stream",
  contentType: "application/x-ndjson; charset=utf-8",
  event: (json) => `${json}\n`,
  keepAlive: '{"type":"ping"}\n',
};

/** A held-open response written to as events arrive: SSE or NDJSON. */
class ResponseSink implements Sink {
  readonly kind: TransportKind;
  private readonly res: ServerResponse;
  private readonly framing: Framing;
  private readonly bufferLimit: number;
  private corked = false;
  /** The last keep-alive is still queued in this process (not yet handed to the kernel). */
  private beatQueued = false;

  constructor(res: ServerResponse, framing: Framing, bufferLimit: number) {
    this.res = res;
    this.framing = framing;
    this.kind = framing.kind;
    this.bufferLimit = bufferLimit;
  }

  write(json: string, seq: number | null): void {
    this.raw(this.framing.event(json, seq));
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
  res.writeHead(200, {
    "content-type": framing.contentType,
    "cache-control": "no-cache, no-transform",
    // Tells nginx (and proxies that honour it) not to buffer: events must leave at once.
    "x-accel-buffering": "no",
    connection: "keep-alive",
  });
  res.flushHeaders();
  const sink = new ResponseSink(res, framing, bufferLimit);
  const { stream, started } = chat.openStream(request.user, request.cursor, sink);
  // A bound method rather than a closure: half the bytes, and no context keeping this call's
  // variables (the request, its cursor) alive for as long as the stream is open.
  res.on("close", stream.stop.bind(stream));
  return started.catch(() => sink.close("store_unavailable"));
}
