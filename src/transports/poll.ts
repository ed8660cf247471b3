import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Chat } from "../core/chat.js";
import type { ErrorCode } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import type { Sink } from "../core/ports/sink.js";
import type { EventStream } from "../core/stream.js";
import { CORS_HEADER_LIST } from "../http/cors.js";
import type { StreamRequest } from "./cursor.js";
import {
  destroySocket,
  handBack,
  headerLines,
  holdData,
  httpDate,
  serverOf,
  takeSocket,
} from "./held-socket.js";

const POLL_HEADERS = [
  ...CORS_HEADER_LIST,
  "content-type",
  "application/json; charset=utf-8",
  "cache-control",
  "no-store",
];

/** POLL_HEADERS as the lines of a head written to a taken socket. */
const POLL_HEAD = headerLines(POLL_HEADERS);

/** Most events in one poll answer (SPEC section 6). */
export const POLL_MAX_EVENTS = LIMITS.pollEvents;

/**
 * A poll is an EventStream whose sink collects instead of writing: it answers as soon as it holds
 * something past the cursor (after the turn's other events have joined it), or empty at the
 * deadline. The resume logic is the same object the streaming transports use.
 *
 * A poll that waits holds its connection's socket itself, taken from node's HTTP server
 * (held-socket.ts): node keeps no request, response or parser for it meanwhile. Its answer is
 * written to the socket, which then goes back to the server for the connection's next request.
 */
class PollSink implements Sink {
  readonly kind = "poll";
  readonly events: string[] = [];
  seq = 0;
  private answered = false;
  private scheduled = false;
  /** The response, until the socket is taken; after that only for the access log's listener. */
  private res: ServerResponse | null;
  /** The socket taken from node's HTTP server while the poll waits, or null. */
  private socket: Socket | null = null;
  /** Whether the request lets the connection carry another one (node's reading of it). */
  private keepAlive = false;
  /** The `close` listener, on the response and then on the taken socket. */
  private onClose: (() => void) | null = null;
  private readonly chat: Chat;
  private readonly user: string;
  private readonly epoch: string;
  /** The stream feeding this poll, stopped once it is answered. */
  stream: EventStream | null = null;
  waiting = false;
  deadline = 0;

  constructor(res: ServerResponse, chat: Chat, user: string) {
    this.res = res;
    this.chat = chat;
    this.user = user;
    this.epoch = chat.epoch;
  }

  write(json: string, seq: number | null): void {
    if (this.answered) return;
    if (json.startsWith('{"type":"hello"')) return; // the answer itself carries seq and epoch
    if (seq !== null) this.seq = seq;
    this.events.push(json);
    if (this.events.length >= POLL_MAX_EVENTS) this.answer();
    else if (this.waiting && !this.scheduled) {
      this.scheduled = true;
      setImmediate(answer, this);
    }
  }

  /** Answers when the client goes. */
  listen(res: ServerResponse): void {
    this.onClose = this.answer.bind(this);
    res.on("close", this.onClose);
  }

  /** Holds the connection's socket while the poll waits (when node lets it be taken). */
  hold(res: ServerResponse): void {
    const socket = takeSocket(res);
    const onClose = this.onClose;
    if (socket === null || onClose === null) return;
    this.socket = socket;
    this.keepAlive = res.shouldKeepAlive;
    res.removeListener("close", onClose);
    // The access log's listener (debug level only) hears of the answer as it did before.
    if (res.listenerCount("close") === 0) this.res = null;
    socket.on("error", destroySocket);
    socket.on("end", destroySocket);
    socket.on("close", onClose);
    socket.on("data", holdData);
    socket.resume();
  }

  answer(): void {
    if (this.answered) return;
    this.answered = true;
    this.stream?.stop();
    this.chat.presence.polled(this.user);
    const body = `{"events":[${this.events.join(",")}],"seq":${this.seq},"epoch":${JSON.stringify(this.epoch)}}`;
    if (this.socket !== null) {
      this.answerOnSocket(this.socket, body);
      return;
    }
    const res = this.res;
    if (res === null || res.destroyed || res.writableEnded) return;
    // One array with the CORS headers: node keeps no headers object for a held response.
    res.writeHead(200, [...POLL_HEADERS, "content-length", String(Buffer.byteLength(body))]);
    res.end(body);
  }

  /** The answer of a poll that waited, written as node would have (keep-alive included). */
  private answerOnSocket(socket: Socket, body: string): void {
    this.socket = null;
    if (!socket.destroyed && !socket.writableEnded) {
      socket.removeListener("end", destroySocket);
      socket.removeListener("data", holdData);
      if (this.onClose !== null) socket.removeListener("close", this.onClose);
      // The server to hand the connection back to; none while it closes (nothing more comes).
      const server = this.keepAlive ? serverOf(socket) : undefined;
      const reuse = server?.listening ? server : undefined;
      const connection = reuse
        ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(reuse.keepAliveTimeout / 1000)}\r\n`
        : "Connection: close\r\n";
      const head = `HTTP/1.1 200 OK\r\n${POLL_HEAD}content-length: ${Buffer.byteLength(body)}\r\nDate: ${httpDate()}\r\n${connection}\r\n`;
      if (reuse) {
        socket.removeListener("error", destroySocket);
        socket.write(head + body);
        handBack(socket, reuse);
      } else {
        socket.end(head + body);
      }
    }
    this.onClose = null;
    const res = this.res;
    this.res = null;
    res?.emit("close");
  }

  close(_reason: ErrorCode): void {
    this.answer();
  }

  /** The hub's sweep: answer empty once the deadline has passed. */
  heartbeat(): void {
    if (this.waiting && Date.now() >= this.deadline) this.answer();
  }
}

function answer(sink: PollSink): void {
  sink.answer();
}

/** GET /v1/poll: short poll (`timeout=0`) or long-poll, from the same cursor as every transport. */
export async function servePoll(
  chat: Chat,
  res: ServerResponse,
  request: StreamRequest,
  timeoutSeconds: number,
) {
  // No closures outlive this call: a held long-poll keeps only its sink and stream (the listener
  // below is a bound method), not this call's variables.
  const sink = new PollSink(res, chat, request.user);
  const { stream, started } = chat.openStream(request.user, request.cursor, sink);
  sink.stream = stream;
  sink.listen(res);
  await started; // on failure the stream is stopped already
  sink.seq = Math.max(sink.seq, stream.lastSeq);
  // Without a cursor the client only wants one; with events waiting, answer now.
  if (sink.events.length > 0 || timeoutSeconds === 0 || request.cursor.seq === undefined) {
    sink.answer();
    return;
  }
  sink.deadline = Date.now() + timeoutSeconds * 1000;
  sink.waiting = true;
  sink.hold(res);
  // A held long-poll is a client polling right now: online from the start, not once answered.
  chat.presence.polled(request.user);
}
