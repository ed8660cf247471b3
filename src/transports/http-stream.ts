import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Chat } from "../core/chat.js";
import type { ErrorCode } from "../core/errors.js";
import type { Sink, TransportKind } from "../core/ports/sink.js";
import { CORS_HEADER_LIST } from "../http/cors.js";
import type { StreamRequest } from "./cursor.js";
import { drained } from "./drained.js";
import { destroySocket, headerLines, httpDate, ignoreData, takeSocket } from "./held-socket.js";

/** How one streaming format frames events and keep-alives. */
interface Framing {
  kind: TransportKind;
  /** The response's headers, made once (writeHead's array form: node keeps no copy per response). */
  headers: readonly string[];
  /** The same, as the lines of a head written to a taken socket (see held-socket.ts). */
  head: string;
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
  ]);
}

const SSE_HEADERS = responseHeaders("text/event-stream; charset=utf-8");
const NDJSON_HEADERS = responseHeaders("application/x-ndjson; charset=utf-8");

const SSE: Framing = {
  kind: "sse",
  headers: Object.freeze([...SSE_HEADERS, "connection", "keep-alive"]),
  head: headerLines(SSE_HEADERS),
  event: (json, id) => (id === null ? `data: ${json}\n\n` : `id: ${id}\ndata: ${json}\n\n`),
  keepAlive: ": ping\n\n",
};

const NDJSON: Framing = {
  kind: "stream",
  headers: Object.freeze([...NDJSON_HEADERS, "connection", "keep-alive"]),
  head: headerLines(NDJSON_HEADERS),
  event: (json) => `${json}\n`,
  keepAlive: '{"type":"ping"}\n',
};

/** Where a stream's bytes go: node's ServerResponse, or the socket taken from it. */
type Out = ServerResponse | Socket;

/**
 * A held-open response written to as events arrive: SSE or NDJSON. Written to the socket itself
 * when it could be taken from node's HTTP server (held-socket.ts), framing HTTP/1.1's chunks
 * itself; else to the ServerResponse, which frames them.
 */
class ResponseSink implements Sink {
  readonly kind: TransportKind;
  private readonly out: Out;
  /** Writing to a taken socket for an HTTP/1.1 request: each write is one chunk of the body. */
  private readonly chunked: boolean;
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

  constructor(
    out: Out,
    chunked: boolean,
    framing: Framing,
    bufferLimit: number,
    chat: Chat,
    tagEpoch: boolean,
  ) {
    this.out = out;
    this.chunked = chunked;
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
    const out = this.out;
    if (out.writableEnded || out.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      out.cork();
      process.nextTick(() => {
        this.corked = false;
        out.uncork();
      });
    }
    out.write(this.chunked ? `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n` : chunk, flushed);
    if (out.writableLength > this.bufferLimit) this.close("slow_consumer");
  }

  whenWritable(): Promise<void> | undefined {
    if (!this.out.writableNeedDrain) return undefined;
    return drained(this.out);
  }

  close(reason: ErrorCode): void {
    if (reason === "slow_consumer") this.out.destroy();
    else if (this.out.writableEnded) return;
    else if (this.chunked) this.out.end(LAST_CHUNK);
    else this.out.end();
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

/** The end of a chunked body. */
const LAST_CHUNK = "0\r\n\r\n";

/** Emits `close` on the response a socket was taken from (for the access log's listener). */
function closeResponse(this: ServerResponse): void {
  this.emit("close");
}

/**
 * Starts an SSE (`sse`) or NDJSON (`stream`) response for an authenticated request. The stream
 * is the connection's last answer (`Connection: close`): it ends only when the server ends it
 * (shutdown, a slow consumer, a ban) or the client goes, and a client opens a new connection
 * to resume either way.
 */
export function serveStream(
  chat: Chat,
  res: ServerResponse,
  request: StreamRequest,
  kind: "sse" | "stream",
  bufferLimit: number,
) {
  // The client may have gone while the request was admitted: `close` has fired already and would
  // never stop a stream opened now (it would stay in the hub for good).
  if (res.destroyed || res.socket === null || res.socket.destroyed) return Promise.resolve();
  const framing = kind === "sse" ? SSE : NDJSON;
  const socket = takeSocket(res);
  let out: Out;
  let chunked = false;
  if (socket !== null) {
    // HTTP/1.0 has no chunks: its body ends where the connection does.
    chunked = res.req.httpVersion === "1.1";
    socket.write(
      `HTTP/1.1 200 OK\r\n${framing.head}Date: ${httpDate()}\r\nConnection: close\r\n${chunked ? "Transfer-Encoding: chunked\r\n" : ""}\r\n`,
    );
    socket.on("error", destroySocket);
    socket.on("end", destroySocket);
    socket.on("data", ignoreData);
    socket.resume();
    // The access log's listener (debug level only) hears of the end as it did before.
    if (res.listenerCount("close") > 0) socket.once("close", closeResponse.bind(res));
    out = socket;
  } else {
    res.writeHead(200, framing.headers as string[]);
    res.flushHeaders();
    out = res;
  }
  const staleUrl = kind === "sse" && request.urlEpoch !== undefined && request.urlEpoch !== chat.epoch;
  const sink = new ResponseSink(out, chunked, framing, bufferLimit, chat, staleUrl);
  const { stream, started } = chat.openStream(request.user, request.cursor, sink);
  // A bound method rather than a closure: half the bytes, and no context keeping this call's
  // variables (the request, its cursor) alive for as long as the stream is open.
  out.on("close", stream.stop.bind(stream));
  return started.catch(() => sink.close("store_unavailable"));
}
