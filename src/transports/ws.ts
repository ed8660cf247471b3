import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { Chat } from "../core/chat.js";
import { closeCodeOf, DuetError, type ErrorCode, toDuetError } from "../core/errors.js";
import { RateLimiter } from "../core/rate-limit.js";
import { EventStream, type Sink } from "../core/stream.js";
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
 * A WebSocket connection's sink. Frames written in one event-loop turn leave in one TCP write
 * (cork until the next tick), and a peer that stops reading is cut at `bufferLimit`.
 */
class WsSink implements Sink {
  readonly kind = "ws";
  private readonly ws: WebSocket;
  private readonly socket: Duplex;
  private readonly bufferLimit: number;
  private corked = false;
  alive = true;

  constructor(ws: WebSocket, socket: Duplex, bufferLimit: number) {
    this.ws = ws;
    this.socket = socket;
    this.bufferLimit = bufferLimit;
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
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.ws.send(frame);
    if (this.ws.bufferedAmount > this.bufferLimit) this.close("slow_consumer");
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

/** SPEC section 6, WebSocket: events out, send/read/typing/ping ops in. */
export class WsTransport {
  readonly server: WebSocketServer;
  private readonly chat: Chat;
  private readonly options: WsOptions;

  constructor(chat: Chat, options: WsOptions) {
    this.chat = chat;
    this.options = options;
    this.server = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
    });
  }

  /** Completes an authenticated upgrade and starts the user's stream. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, stream: StreamRequest): void {
    this.server.handleUpgrade(req, socket, head, (ws) => this.run(ws, socket, stream));
  }

  private run(ws: WebSocket, socket: Duplex, request: StreamRequest): void {
    const sink = new WsSink(ws, socket, this.options.bufferLimit);
    const events = new EventStream(this.chat.hub, this.chat.store, request.user, sink);
    const frames = new RateLimiter(this.options.frameRate, this.options.frameBurst);
    ws.on("pong", () => {
      sink.alive = true;
    });
    ws.on("close", () => events.stop());
    ws.on("error", () => events.stop());
    ws.on("message", (data, isBinary) => {
      if (frames.take("frames") > 0) {
        ws.close(1008, "rate_limited");
        return;
      }
      sink.alive = true;
      this.onFrame(request.user, sink, data, isBinary);
    });
    events.start(request.cursor).catch((err: unknown) => {
      sink.close(toDuetError(err).code === "store_unavailable" ? "store_unavailable" : "shutting_down");
    });
  }

  private onFrame(user: string, sink: WsSink, data: RawData, isBinary: boolean): void {
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
        if (ref !== undefined) sink.send(JSON.stringify({ op: "result", ref, ...result }));
        else if (frame.op === "ping") sink.send('{"op":"pong"}');
      },
      (err: unknown) => {
        const error = toDuetError(err);
        sink.send(
          JSON.stringify({ op: "error", ...(ref === undefined ? {} : { ref }), error: error.toJSON() }),
        );
      },
    );
  }

  private async dispatch(user: string, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { op, ref: _ref, ...rest } = frame;
    switch (op) {
      case "send": {
        const { message } = await this.chat.send(sendInput(user, rest, this.options.maxTextLength));
        return { message };
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
