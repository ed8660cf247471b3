import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { Chat } from "../core/chat.js";
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
    // Events are flat objects; on the WebSocket they travel as {"op":"event",...event}.
    const frame = json.startsWith('{"type":"hello"')
      ? `{"op":"hello",${json.slice(1)}`
      : `{"op":"event",${json.slice(1)}`;
    this.send(frame);
  }

  send(frame: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.ws.send(frame);
    if (this.ws.bufferedAmount > this.bufferLimit) this.close("slow_consumer");
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
      sink.send(JSON.stringify({ op: "error", error: toDuetError(err).toJSON() }));
      return;
    }
    this.dispatch(user, frame).then(
      (result) => {
        if (ref === undefined) {
          if (frame.op === "ping") sink.send('{"op":"pong"}');
        } else if (typeof result === "string") {
          // A send's message as the store serialised it: the same text JSON.stringify would give.
          sink.send(`{"op":"result","ref":${JSON.stringify(ref)},"message":${result}}`);
        } else {
          sink.send(JSON.stringify({ op: "result", ref, ...result }));
        }
      },
      (err: unknown) => {
        const error = toDuetError(err);
        sink.send(
          JSON.stringify({ op: "error", ...(ref === undefined ? {} : { ref }), error: error.toJSON() }),
        );
      },
    );
  }

  /** A result's fields, or for a send the message's JSON. */
  private async dispatch(
    user: string,
    frame: Record<string, unknown>,
  ): Promise<Record<string, unknown> | string> {
    const { op, ref: _ref, ...rest } = frame;
    switch (op) {
      case "send": {
        const { message, json } = await this.chat.send(sendInput(user, rest, this.options.maxTextLength));
        return json ?? JSON.stringify(message);
      }
      case "read": {
        const peer = userId(rest.peer, "peer");
        return this.chat.markRead(user, peer, messageId(rest.upTo, "upTo"));
      }
      case "typing":
        await this.chat.typing(user, userId(rest.to, "to"));
        return {};
      case "ping":
        return { pong: Date.now() };
      default:
        throw new DuetError("invalid_input", "op must be send, read, typing or ping.");
    }
  }
}
