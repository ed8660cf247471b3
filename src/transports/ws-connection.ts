/**
 * One WebSocket connection on the server: the socket class, its shared listeners and its sink
 * (stream, frame-rate bucket, heartbeat, buffer limit). Frames are encoded by ws-frames.ts; the
 * ops a connection receives are run by its transport (ws.ts).
 */
import type { Duplex } from "node:stream";
import { type RawData, WebSocket } from "ws";
import type { Sent } from "../core/chat.js";
import { closeCodeOf, DuetError, type ErrorCode, toDuetError } from "../core/errors.js";
import type { Sink } from "../core/ports/sink.js";
import { type Bucket, takeToken } from "../core/rate-limit.js";
import type { EventStream } from "../core/stream.js";
import { drained } from "./drained.js";
import { type FrameTarget, flushFrames, queueFrame } from "./ws-frames.js";

export interface WsOptions {
  maxPayload: number;
  maxTextLength: number;
  bufferLimit: number;
  /** Frames a connection may send per second (sustained) before it is closed with 1008. */
  frameRate: number;
  frameBurst: number;
  /** Told of every error a connection is answered or closed with (metrics, the operator's log). */
  onError?: (error: DuetError) => void;
  /**
   * Ops other parts add (SPEC 13's `delivered`): each validates its frame and answers the result's
   * fields; a throw before the promise is a bad frame.
   */
  ops?: Record<string, (user: string, frame: Record<string, unknown>) => Promise<Record<string, unknown>>>;
}

/** What a connection needs of its transport (WsTransport): the limits, and where its ops go. */
export interface WsHost {
  readonly options: WsOptions;
  onFrame(user: string, sink: WsSink, data: RawData, isBinary: boolean): void;
}

/**
 * The WebSocket class `ws` builds for each upgrade, with one field more: the connection's sink.
 * Its listeners are shared functions that find their state through it (`this` is the socket), so
 * an idle connection carries no closures and no contexts of its own.
 */
export class DuetSocket extends WebSocket {
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
export function presetListeners(ws: WebSocket): void {
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

export function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  sinkOf(this)?.frame(data, isBinary);
}

/**
 * Pongs a client's ping (`autoPong` is off: its per-socket callback is a closure). A peer that
 * pings without reading is cut like any slow consumer, once its pongs pile up past the limit.
 */
export function onPing(this: WebSocket, data: Buffer): void {
  if (this.readyState !== WebSocket.OPEN) return;
  flushFrames();
  this.pong(data);
  const sink = sinkOf(this);
  if (sink && this.bufferedAmount > sink.bufferLimit) this.terminate();
}

export function onPong(this: WebSocket): void {
  const sink = sinkOf(this);
  if (sink) sink.alive = true;
}

export function onEnd(this: WebSocket): void {
  sinkOf(this)?.events?.stop();
}

/**
 * A WebSocket connection's sink, and everything the connection keeps: its stream, its frame-rate
 * bucket (two numbers), its heartbeat flag. Frames written in one event-loop turn leave in one
 * TCP write (cork until the next tick), and a peer that stops reading is cut at `bufferLimit`.
 */
export class WsSink implements Sink, Bucket, FrameTarget {
  readonly kind = "ws";
  private readonly ws: DuetSocket;
  private readonly socket: Duplex;
  private readonly transport: WsHost;
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

  constructor(ws: DuetSocket, socket: Duplex, transport: WsHost) {
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

const EVENT_HEAD = '{"op":"event",';
const HELLO_HEAD = '{"op":"hello",';

export function isSent(result: Record<string, unknown> | Sent): result is Sent {
  return typeof result.duplicate === "boolean" && typeof result.message === "object";
}
