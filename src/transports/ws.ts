import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { Chat, Sent } from "../core/chat.js";
import { closeCodeOf, DuetError, type ErrorCode, toDuetError } from "../core/errors.js";
import { type Bucket, takeToken } from "../core/rate-limit.js";
import { type Cursor, EventStream, type Sink } from "../core/stream.js";
import { asObject, messageId, sendInput, userId } from "../core/validate.js";
import type { StreamRequest } from "./cursor.js";
import { drained } from "./drained.js";

export interface WsOptions {
  maxPayload: number;
  maxTextLength: number;
  bufferLimit: number;
  /** Frames a connection may send per second (sustained) before it is closed with 1008. */
  frameRate: number;
  frameBurst: number;
  /** Told of every error a connection is answered or closed with (metrics, the operator's log). */
  onError?: (error: DuetError) => void;
}

/**
 * The WebSocket class `ws` builds for each upgrade, with one field more: the connection's sink.
 * Its listeners are shared functions that find their state through it (`this` is the socket), so
 * an idle connection carries no closures and no contexts of its own.
 */
class DuetSocket extends WebSocket {
  sink: WsSink | null = null;

  /**
   * Every close frame, ours or the one `ws` answers a peer's close with, leaves after the frames
   * queued before it (see flushFrames).
   */
  override close(code?: number, data?: string | Buffer): void {
    flushFrames();
    super.close(code, data);
  }
}

/**
 * EventEmitter keeps listeners in a null-prototype object, which V8 holds as a dictionary (~250
 * bytes, even nearly empty). Node's own streams preset a plain object with the events they use
 * instead (undefined means "no listener" to EventEmitter); so does this, before any listener.
 */
function presetListeners(ws: WebSocket): void {
  const emitter = ws as unknown as { _events: object; _eventsCount: number };
  if (emitter._eventsCount !== 0) return;
  emitter._events = {
    message: undefined,
    close: undefined,
    error: undefined,
    ping: undefined,
    pong: undefined,
  };
}

/** The sink of a socket the server built (every one is a DuetSocket). */
function sinkOf(ws: WebSocket): WsSink | null {
  return (ws as DuetSocket).sink;
}

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  sinkOf(this)?.frame(data, isBinary);
}

/**
 * Pongs a client's ping (`autoPong` is off: its per-socket callback is a closure). A peer that
 * pings without reading is cut like any slow consumer, once its pongs pile up past the limit.
 */
function onPing(this: WebSocket, data: Buffer): void {
  if (this.readyState !== WebSocket.OPEN) return;
  flushFrames();
  this.pong(data);
  const sink = sinkOf(this);
  if (sink && this.bufferedAmount > sink.bufferLimit) this.terminate();
}

function onPong(this: WebSocket): void {
  const sink = sinkOf(this);
  if (sink) sink.alive = true;
}

function onEnd(this: WebSocket): void {
  sinkOf(this)?.events?.stop();
}

/**
 * A WebSocket connection's sink, and everything the connection keeps: its stream, its frame-rate
 * bucket (two numbers), its heartbeat flag. Frames written in one event-loop turn leave in one
 * TCP write (cork until the next tick), and a peer that stops reading is cut at `bufferLimit`.
 */
class WsSink implements Sink, Bucket {
  readonly kind = "ws";
  private readonly ws: DuetSocket;
  private readonly socket: Duplex;
  private readonly transport: WsTransport;
  events: EventStream | null = null;
  /** Bytes of this connection's frames queued this turn (see flushFrames). */
  queuedBytes = 0;
  /** While flushFrames runs: the buffer the queued frames are encoded into, and how far. */
  out: Buffer | null = null;
  outAt = 0;
  alive = true;
  /** The frame-rate bucket (`takeToken`): starts full. */
  tokens: number;
  at = 0;

  constructor(ws: DuetSocket, socket: Duplex, transport: WsTransport) {
    this.ws = ws;
    this.socket = socket;
    this.transport = transport;
    this.tokens = transport.options.frameBurst;
  }

  /** An incoming frame: a flood closes the connection with 1008, anything else is an op. */
  frame(data: RawData, isBinary: boolean): void {
    const { frameRate, frameBurst } = this.transport.options;
    if (takeToken(this, frameRate, frameBurst, Date.now()) > 0) {
      this.transport.options.onError?.(new DuetError("rate_limited"));
      this.ws.close(1008, "rate_limited");
      return;
    }
    this.alive = true;
    if (this.events) this.transport.onFrame(this.events.user, this, data, isBinary);
  }

  write(json: string, _seq: number | null): void {
    // Events are flat objects; on the WebSocket they travel as {"op":"event",...event}: the
    // frame is built from the event's JSON as is, with no frame string made per connection.
    this.sendFrame(json.startsWith('{"type":"hello"') ? HELLO_HEAD : EVENT_HEAD, json, 1, "");
  }

  /** A frame whose text is complete (errors, pongs). */
  send(frame: string): void {
    this.sendFrame(frame, "", 0, "");
  }

  /**
   * Queues one text frame, `head + body.slice(skip) + tail`, to be written at the end of the
   * turn with the connection's other frames of the turn, as one buffer (see flushFrames).
   */
  sendFrame(head: string, body: string, skip: 0 | 1, tail: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.queuedBytes += queueFrame(this, head, body, skip, tail);
    // A peer that stops reading is cut by the frame that takes it past the limit, as if each
    // frame were written at once: written now, the frames show the limit crossed.
    if (this.queuedBytes + this.ws.bufferedAmount > this.bufferLimit) flushFrames();
  }

  /** Writes the frames flushFrames encoded for this connection. */
  writeOut(frames: Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.socket.write(frames);
    if (this.ws.bufferedAmount > this.bufferLimit) this.close("slow_consumer");
  }

  /** The answer to an op with a `ref`: a send's stored message, or the op's result fields. */
  sendResult(ref: string, result: Record<string, unknown> | Sent): void {
    if (isSent(result)) {
      // The message as the store serialised it: the same text JSON.stringify would give.
      const json = result.json ?? JSON.stringify(result.message);
      this.sendFrame(`{"op":"result","ref":${JSON.stringify(ref)},"message":`, json, 0, "}");
    } else {
      this.send(JSON.stringify({ op: "result", ref, ...result }));
    }
  }

  sendError(ref: string | undefined, err: unknown): void {
    const duetError = toDuetError(err);
    this.transport.options.onError?.(duetError);
    const error = duetError.toJSON();
    this.send(JSON.stringify(ref === undefined ? { op: "error", error } : { op: "error", ref, error }));
  }

  get bufferLimit(): number {
    return this.transport.options.bufferLimit;
  }

  whenWritable(): Promise<void> | undefined {
    // A replay queues frames as fast as it reads them: past a socket's worth, they go out now.
    if (this.queuedBytes >= this.socket.writableHighWaterMark) flushFrames();
    if (!this.socket.writableNeedDrain || this.ws.readyState !== WebSocket.OPEN) return undefined;
    return drained(this.socket);
  }

  close(reason: ErrorCode): void {
    if (reason === "slow_consumer") {
      // The peer is not reading: a close frame would queue behind everything else.
      this.ws.terminate();
      return;
    }
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(closeCodeOf(reason), reason);
    }
  }

  heartbeat(): void {
    if (!this.alive) {
      this.ws.terminate();
      return;
    }
    this.alive = false;
    flushFrames();
    this.ws.ping();
  }
}

/**
 * The frames of this turn, in order, one slot of each array per frame: the connection and the
 * frame's parts and payload length. The arrays are reused turn after turn (their slots cleared),
 * so queueing a frame makes no object.
 */
const queuedSinks: (WsSink | null)[] = [];
const queuedHeads: string[] = [];
const queuedBodies: string[] = [];
const queuedSkips: (0 | 1)[] = [];
const queuedTails: string[] = [];
const queuedLengths: number[] = [];
let queued = 0;
/** Connections with frames in the flush under way, in the order of their first frame. */
const flushing: WsSink[] = [];

/** Queues a frame of `sink`; returns its size on the wire (header included). */
function queueFrame(sink: WsSink, head: string, body: string, skip: 0 | 1, tail: string): number {
  const length = payloadLength(head, body, skip, tail);
  if (queued === 0) process.nextTick(flushFrames);
  queuedSinks[queued] = sink;
  queuedHeads[queued] = head;
  queuedBodies[queued] = body;
  queuedSkips[queued] = skip;
  queuedTails[queued] = tail;
  queuedLengths[queued] = length;
  queued++;
  return headerLength(length) + length;
}

/**
 * Writes the frames queued so far: each connection's frames of the turn encoded into one buffer,
 * in the order they were sent, and written with one call (the text of each frame is encoded
 * once, straight into it; no frame string, no buffer per frame, none of `ws`'s per-send objects).
 * Runs at the end of every turn in which a frame was queued, and before anything `ws` writes
 * itself (pings, pongs, close frames), so that those stay in order with the frames.
 */
export function flushFrames(): void {
  const count = queued;
  if (count === 0) return;
  queued = 0;
  for (let i = 0; i < count; i++) {
    const sink = queuedSinks[i] as WsSink;
    let out = sink.out;
    if (out === null) {
      out = Buffer.allocUnsafe(sink.queuedBytes);
      sink.out = out;
      sink.outAt = 0;
      flushing.push(sink);
    }
    sink.outAt = encodeFrame(
      out,
      sink.outAt,
      queuedLengths[i],
      queuedHeads[i],
      queuedBodies[i],
      queuedSkips[i],
      queuedTails[i],
    );
    queuedSinks[i] = null;
    queuedHeads[i] = "";
    queuedBodies[i] = "";
    queuedTails[i] = "";
  }
  try {
    for (let i = 0; i < flushing.length; i++) {
      const sink = flushing[i];
      const out = sink.out as Buffer;
      sink.out = null;
      sink.queuedBytes = 0;
      sink.writeOut(out);
    }
  } finally {
    // Whatever happened to one connection's write, the next flush starts from nothing.
    for (const sink of flushing) {
      sink.out = null;
      sink.queuedBytes = 0;
    }
    flushing.length = 0;
  }
}

/** The fields of a `send` frame besides the message's own. */
const FRAME_FIELDS = ["op", "ref"] as const;

function ignore(): void {}

function empty(): Record<string, unknown> {
  return {};
}

function isSent(result: Record<string, unknown> | Sent): result is Sent {
  return typeof result.duplicate === "boolean" && typeof result.message === "object";
}

const EVENT_HEAD = '{"op":"event",';
const HELLO_HEAD = '{"op":"hello",';

function payloadLength(head: string, body: string, skip: 0 | 1, tail: string): number {
  const bodyBytes = body.length === 0 ? 0 : Buffer.byteLength(body) - skip;
  return Buffer.byteLength(head) + bodyBytes + (tail.length === 0 ? 0 : Buffer.byteLength(tail));
}

/** The header's size for a payload of `length` bytes (RFC 6455 section 5.2). */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/**
 * Encodes into `out` at `at` an unmasked, unfragmented WebSocket text frame (as a server sends
 * it) whose payload, `length` bytes, is `head + body.slice(skip) + tail`; returns where it ends.
 * With `skip` 1 the body's first character (the `{` of an object) is dropped: `head` ends with
 * the character that replaces it.
 */
function encodeFrame(
  out: Buffer,
  at: number,
  length: number,
  head: string,
  body: string,
  skip: 0 | 1,
  tail: string,
): number {
  out[at] = 0x81; // FIN, text
  if (length < 126) {
    out[at + 1] = length;
    at += 2;
  } else if (length < 65536) {
    out[at + 1] = 126;
    out.writeUInt16BE(length, at + 2);
    at += 4;
  } else {
    out[at + 1] = 127;
    out.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
    out.writeUInt32BE(length >>> 0, at + 6);
    at += 10;
  }
  const headBytes = head.length === 0 ? 0 : Buffer.byteLength(head);
  if (body.length > 0) {
    // The body's skipped first character (one byte: "{") lands on head's last byte, which the
    // head written after it restores.
    out.write(body, at + headBytes - skip, "utf8");
  }
  if (headBytes > 0) out.write(head, at, "utf8");
  const end = at + length;
  if (tail.length > 0) out.write(tail, end - Buffer.byteLength(tail), "utf8");
  return end;
}

/** One frame on its own (for tests): the bytes flushFrames writes for it. */
export function textFrame(head: string, body: string, skip: 0 | 1, tail: string): Buffer {
  const length = payloadLength(head, body, skip, tail);
  const frame = Buffer.allocUnsafe(headerLength(length) + length);
  encodeFrame(frame, 0, length, head, body, skip, tail);
  return frame;
}

/** SPEC section 6, WebSocket: events out, send/read/typing/ping ops in. */
export class WsTransport {
  readonly server: WebSocketServer;
  readonly options: WsOptions;
  private readonly chat: Chat;

  constructor(chat: Chat, options: WsOptions) {
    this.chat = chat;
    this.options = options;
    this.server = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
      // The hub knows every connection (shutdown closes them through it): no second registry,
      // and no close listener per connection to keep it.
      clientTracking: false,
      autoPong: false,
      WebSocket: DuetSocket,
    });
  }

  /**
   * Completes an authenticated upgrade and starts the user's stream. Nothing of the request is
   * kept: the connection holds its user (on its EventStream), not the IncomingMessage.
   */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, stream: StreamRequest): void {
    const { user, cursor } = stream;
    this.server.handleUpgrade(req, socket, head, (ws) => this.run(ws as DuetSocket, socket, user, cursor));
  }

  private run(ws: DuetSocket, socket: Duplex, user: string, cursor: Cursor): void {
    const sink = new WsSink(ws, socket, this);
    const events = new EventStream(this.chat.hub, this.chat.store, user, sink);
    sink.events = events;
    ws.sink = sink;
    presetListeners(ws);
    ws.on("pong", onPong);
    ws.on("close", onEnd);
    ws.on("error", onEnd);
    ws.on("message", onMessage);
    ws.on("ping", onPing);
    events.start(cursor).catch((err: unknown) => {
      sink.close(toDuetError(err).code === "store_unavailable" ? "store_unavailable" : "shutting_down");
    });
  }

  onFrame(user: string, sink: WsSink, data: RawData, isBinary: boolean): void {
    let frame: Record<string, unknown>;
    let ref: unknown;
    try {
      if (isBinary) throw new DuetError("invalid_input", "Frames are JSON text.");
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.toString());
      } catch {
        throw new DuetError("invalid_json");
      }
      frame = asObject(parsed, "A frame");
      ref = frame.ref;
      if (ref !== undefined && (typeof ref !== "string" || ref.length > 64)) {
        ref = undefined;
        throw new DuetError("invalid_input", "ref must be a string of at most 64 characters.");
      }
    } catch (err) {
      sink.sendError(undefined, err);
      return;
    }
    let answer: Promise<Record<string, unknown> | Sent>;
    try {
      answer = this.dispatch(user, frame);
    } catch (err) {
      sink.sendError(ref, err);
      return;
    }
    if (ref === undefined) {
      // Nobody waits for the answer: only failures and a ping's pong are sent.
      answer.then(frame.op === "ping" ? () => sink.send('{"op":"pong"}') : ignore, (err: unknown) =>
        sink.sendError(undefined, err),
      );
      return;
    }
    answer.then(
      (result) => sink.sendResult(ref, result),
      (err: unknown) => sink.sendError(ref, err),
    );
  }

  /**
   * Starts an op; a frame that is not a valid op throws here, before any promise is made. The
   * answer is a result's fields, or for a send the stored message.
   */
  private dispatch(user: string, frame: Record<string, unknown>): Promise<Record<string, unknown> | Sent> {
    switch (frame.op) {
      case "send":
        // The frame itself is the send's fields: `op` and `ref` are the only others it may have.
        return this.chat.send(sendInput(user, frame, this.options.maxTextLength, FRAME_FIELDS));
      case "read": {
        const peer = userId(frame.peer, "peer");
        return this.chat.markRead(user, peer, messageId(frame.upTo, "upTo"));
      }
      case "typing":
        return this.chat.typing(user, userId(frame.to, "to")).then(empty);
      case "ping":
        return Promise.resolve({ pong: Date.now() });
      default:
        throw new DuetError("invalid_input", "op must be send, read, typing or ping.");
    }
  }
}
