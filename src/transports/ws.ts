import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocketServer } from "ws";
import type { Chat, Sent } from "../core/chat.js";
import { DuetError, toDuetError } from "../core/errors.js";
import { LIMITS } from "../core/limits.js";
import { compile } from "../core/schema-kit.js";
import type { ResumeFrom } from "../core/stream.js";
import { asObject, checkSend } from "../core/validate.js";
import type { StreamRequest } from "./cursor.js";
import {
  DuetSocket,
  onEnd,
  onMessage,
  onPing,
  onPong,
  presetListeners,
  type WsHost,
  type WsOptions,
  WsSink,
} from "./ws-connection.js";
import { PingOpSchema, ReadOpSchema, sendFrameSchema, TypingOpSchema } from "./ws-schema.js";

function ignore(): void {}

function empty(): Record<string, unknown> {
  return {};
}

/**
 * SPEC section 6, WebSocket: events out, send/read/typing/ping ops in. This file is the upgrade
 * and the ops; a connection's state is in ws-connection.ts, its framing in ws-frames.ts.
 */
export class WsTransport implements WsHost {
  readonly server: WebSocketServer;
  readonly options: WsOptions;
  private readonly chat: Chat;
  /** The ops' validators (ws-schema.ts), compiled once for the server's text limit. */
  private readonly ops: {
    send: (frame: unknown) => Parameters<typeof checkSend>[1];
    read: (frame: unknown) => { peer: string; upTo: string };
    typing: (frame: unknown) => { to: string };
    ping: (frame: unknown) => unknown;
  };

  constructor(chat: Chat, options: WsOptions) {
    this.chat = chat;
    this.options = options;
    this.ops = {
      send: compile(sendFrameSchema(options.maxTextLength), "frame"),
      read: compile(ReadOpSchema, "frame"),
      typing: compile(TypingOpSchema, "frame"),
      ping: compile(PingOpSchema, "frame"),
    };
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

  private run(ws: DuetSocket, socket: Duplex, user: string, cursor: ResumeFrom): void {
    const sink = new WsSink(ws, socket, this);
    const { stream, started } = this.chat.openStream(user, cursor, sink);
    sink.events = stream;
    ws.sink = sink;
    presetListeners(ws);
    ws.on("pong", onPong);
    ws.on("close", onEnd);
    ws.on("error", onEnd);
    ws.on("message", onMessage);
    ws.on("ping", onPing);
    started.catch((err: unknown) => {
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
      if (ref !== undefined && (typeof ref !== "string" || ref.length > LIMITS.refLength)) {
        ref = undefined;
        throw new DuetError(
          "invalid_input",
          `ref must be a string of at most ${LIMITS.refLength} characters.`,
        );
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
        return this.chat.send(checkSend(user, this.ops.send(frame)));
      case "read": {
        const { peer, upTo } = this.ops.read(frame);
        return this.chat.markRead(user, peer, upTo);
      }
      case "typing":
        return this.chat.typing(user, this.ops.typing(frame).to).then(empty);
      case "ping":
        this.ops.ping(frame);
        return Promise.resolve({ pong: Date.now() });
      default: {
        const op = typeof frame.op === "string" ? this.options.ops?.[frame.op] : undefined;
        if (op !== undefined && Object.hasOwn(this.options.ops ?? {}, frame.op as string))
          return op(user, frame);
        throw new DuetError("invalid_input", "op must be send, read, delivered, typing or ping.");
      }
    }
  }
}
