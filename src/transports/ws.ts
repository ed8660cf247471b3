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
}

/**
 * The WebSocket class `ws` builds for each upgrade, with one field more: the connection's sink.
 * Its listeners are shared functions that find their state through it (`this` is the socket), so
 * an idle connection carries no closures and no contexts of its own.
 */
class DuetSocket extends WebSocket {
  sink: WsSink | null = null;
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
  private corked = false;
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
   * Writes one text frame, `head + body.slice(skip) + tail`, straight to the socket, as one
   * buffer: the text is encoded once, into the frame, and neither a frame string nor `ws`'s
   * per-send objects (options, header buffer, chunk list) are made. The socket is corked until
   * the next tick, so the frames of one turn still leave in one write, in order with anything
   * `ws` itself writes meanwhile (pongs, pings, close frames).
   */
  sendFrame(head: string, body: string, skip: 0 | 1, tail: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.socket.write(textFrame(head, body, skip, tail));
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
    const error = toDuetError(err).toJSON();
    this.send(JSON.stringify(ref === undefined ? { op: "error", error } : { op: "error", ref, error }));
  }

  get bufferLimit(): number {
    return this.transport.options.bufferLimit;
  }

  uncork(): void {
    this.corked = false;
    this.socket.uncork();
  }

  whenWritable(): Promise<void> | undefined {
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
    this.ws.ping();
  }
}

function uncork(sink: WsSink): void {
  sink.uncork();
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

/**
 * An unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2, as a server sends it)
 * whose payload is `head + body.slice(skip) + tail`. With `skip` 1 the body's first character
 * (the `{` of an object) is dropped: `head` ends with the character that replaces it.
 */
export function textFrame(head: string, body: string, skip: 0 | 1, tail: string): Buffer {
  const headBytes = Buffer.byteLength(head);
  const bodyBytes = body.length === 0 ? 0 : Buffer.byteLength(body) - skip;
  const tailBytes = tail.length === 0 ? 0 : Buffer.byteLength(tail);
  const length = headBytes + bodyBytes + tailBytes;
  const at = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(at + length);
  frame[0] = 0x81; // FIN, text
  if (at === 2) {
    frame[1] = length;
  } else if (at === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  if (bodyBytes > 0) {
    // The body's skipped first character (one byte: "{") lands on head's last byte, which the
    // head written after it restores.
    frame.write(body, at + headBytes - skip, "utf8");
  }
  if (headBytes > 0) frame.write(head, at, "utf8");
  if (tailBytes > 0) frame.write(tail, at + headBytes + bodyBytes, "utf8");
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
