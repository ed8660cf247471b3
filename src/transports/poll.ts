import type { ServerResponse } from "node:http";
import type { Chat } from "../core/chat.js";
import type { ErrorCode } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import type { Sink } from "../core/ports/sink.js";
import type { EventStream } from "../core/stream.js";
import { CORS_HEADER_LIST } from "../http/cors.js";
import type { StreamRequest } from "./cursor.js";

const POLL_HEADERS = [
  ...CORS_HEADER_LIST,
  "content-type",
  "application/json; charset=utf-8",
  "cache-control",
  "no-store",
];

/** Most events in one poll answer (SPEC section 6). */
export const POLL_MAX_EVENTS = LIMITS.pollEvents;

/**
 * A poll is an EventStream whose sink collects instead of writing: it answers as soon as it holds
 * something past the cursor (after the turn's other events have joined it), or empty at the
 * deadline. The resume logic is the same object the streaming transports use.
 */
class PollSink implements Sink {
  readonly kind = "poll";
  readonly events: string[] = [];
  seq = 0;
  private answered = false;
  private scheduled = false;
  private readonly res: ServerResponse;
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

  answer(): void {
    if (this.answered) return;
    this.answered = true;
    this.stream?.stop();
    this.chat.presence.polled(this.user);
    if (this.res.destroyed || this.res.writableEnded) return;
    const body = `{"events":[${this.events.join(",")}],"seq":${this.seq},"epoch":${JSON.stringify(this.epoch)}}`;
    // One array with the CORS headers: node keeps no headers object for a held response.
    this.res.writeHead(200, [...POLL_HEADERS, "content-length", String(Buffer.byteLength(body))]);
    this.res.end(body);
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
  res.on("close", sink.answer.bind(sink));
  await started; // on failure the stream is stopped already
  sink.seq = Math.max(sink.seq, stream.lastSeq);
  // Without a cursor the client only wants one; with events waiting, answer now.
  if (sink.events.length > 0 || timeoutSeconds === 0 || request.cursor.seq === undefined) {
    sink.answer();
    return;
  }
  sink.deadline = Date.now() + timeoutSeconds * 1000;
  sink.waiting = true;
  // A held long-poll is a client polling right now: online from the start, not once answered.
  chat.presence.polled(request.user);
}
