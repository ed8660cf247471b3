/**
 * The load generator's clients: one connection of one user, to duet over each transport or to
 * the Socket.IO relay (engine.io v4 spoken directly over `ws`, so both servers face the same
 * client code and the client library's own cost does not tilt the comparison).
 */
import http from "node:http";
import { WebSocket } from "ws";
import { signToken } from "../test/helpers/kit.js";
import { type HttpConnection, HttpPool, requestText } from "./http-client.js";
import type { Endpoint, Transport } from "./protocol.js";

/** What a client reports to the workload driving it. */
export interface ClientHooks {
  /** A message from another user reached this client. `id` is the server's id (duet only). */
  message(to: BenchClient, from: string, text: string, id: string | null): void;
  /** The server confirmed the send `ref` (WebSocket `result`, HTTP 201). */
  accepted(from: BenchClient, ref: number): void;
  /** The send `ref` failed; `ref` is -1 when the failure cannot be tied to one send. */
  failed(from: BenchClient, ref: number, reason: string): void;
  /** The stream's seq skipped or went back: a gap or a repeat in what the server delivered. */
  streamAnomaly(at: BenchClient, detail: string): void;
  /** The connection ended without the workload closing it. */
  dropped(client: BenchClient, reason: string): void;
}

export interface BenchClient {
  readonly user: string;
  /** False for Socket.IO: nothing confirms a send, so a send counts as accepted once written. */
  readonly acks: boolean;
  /** Resolves once the stream is live (duet's hello, Socket.IO's namespace connect). */
  connect(): Promise<void>;
  /** The local TCP port of a WebSocket once connected (where the bench looks for its server process). */
  readonly localPort?: number;
  send(to: string, text: string, ref: number): void;
  close(): void;
}

/** Clients' tokens (test/helpers/kit.ts signToken, HS256 through jose) outlast any run. */
const TOKEN_TTL_S = 86_400;

/** Shared state of a client population: the endpoint, agents and hooks. */
export interface ClientContext {
  endpoint: Endpoint;
  hooks: ClientHooks;
  /** `host:port` of the endpoint, for the Host header. */
  host: string;
  /** Keep-alive connections for POST /v1/messages. */
  sendPool: HttpPool;
  /** Agent for held streams (SSE, NDJSON): one socket each. */
  streamAgent: http.Agent;
  /** Long-poll timeout in seconds. */
  pollTimeout: number;
}

export function createContext(endpoint: Endpoint, hooks: ClientHooks, httpSockets: number, pollTimeout = 25) {
  return {
    endpoint,
    hooks,
    host: new URL(endpoint.url).host,
    sendPool: new HttpPool(endpoint.url, httpSockets),
    streamAgent: new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY }),
    pollTimeout,
  } satisfies ClientContext;
}

export function createClient(ctx: ClientContext, transport: Transport, user: string): BenchClient {
  if (ctx.endpoint.target === "socketio") {
    if (transport !== "ws") throw new Error("The Socket.IO relay is compared over WebSocket only.");
    return new SocketIoClient(ctx, user);
  }
  switch (transport) {
    case "ws":
      return new DuetWsClient(ctx, user);
    case "sse":
    case "stream":
      return new DuetStreamClient(ctx, user, transport);
    case "longpoll":
      return new DuetPollClient(ctx, user);
  }
}

interface WireMessage {
  id: string;
  from: string;
  text: string;
}

interface WireEvent {
  type: string;
  seq?: number;
  message?: WireMessage;
}

/** Seq bookkeeping shared by every duet transport: hello sets it, each stored event must be +1. */
abstract class DuetClient implements BenchClient {
  readonly user: string;
  readonly acks = true;
  protected readonly ctx: ClientContext;
  /** Signed when connecting (jose signs asynchronously). */
  protected token = "";
  /** `authorization: Bearer …\r\n`, written into each HTTP request. */
  protected authHeader = "";
  protected lastSeq = -1;
  protected closed = false;

  constructor(ctx: ClientContext, user: string) {
    this.ctx = ctx;
    this.user = user;
  }

  async connect(): Promise<void> {
    this.token = await signToken(this.user, this.ctx.endpoint.secret, TOKEN_TTL_S);
    this.authHeader = `authorization: Bearer ${this.token}\r\n`;
    return this.open();
  }

  /** Opens the connection once the token is signed; resolves once the stream is live. */
  protected abstract open(): Promise<void>;
  abstract close(): void;

  send(to: string, text: string, ref: number): void {
    postMessage(this.ctx, this, this.authHeader, to, text, ref);
  }

  protected event(event: WireEvent): void {
    if (event.type === "hello") {
      this.lastSeq = event.seq ?? 0;
      return;
    }
    if (typeof event.seq === "number") {
      if (event.seq !== this.lastSeq + 1) {
        this.ctx.hooks.streamAnomaly(this, `seq ${event.seq} after ${this.lastSeq}`);
      }
      if (event.seq > this.lastSeq) this.lastSeq = event.seq;
    }
    if (event.type === "message" && event.message && event.message.from !== this.user) {
      this.ctx.hooks.message(this, event.message.from, event.message.text, event.message.id);
    }
  }

  protected drop(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.hooks.dropped(this, reason);
  }
}

/** POST /v1/messages on the shared keep-alive connections. */
function postMessage(
  ctx: ClientContext,
  from: BenchClient,
  authHeader: string,
  to: string,
  text: string,
  ref: number,
) {
  const body = `{"to":"${to}","text":"${text}"}`;
  const wire = requestText(
    "POST",
    "/v1/messages",
    ctx.host,
    `${authHeader}content-type: application/json\r\n`,
    body,
  );
  ctx.sendPool.request(wire, (err, answer) => {
    if (err || !answer) ctx.hooks.failed(from, ref, `POST failed: ${err?.message}`);
    else if (answer.status === 201) ctx.hooks.accepted(from, ref);
    else ctx.hooks.failed(from, ref, `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
  });
}

const RESULT_PREFIX = '{"op":"result","ref":"';

/** duet over WebSocket: sends with the `send` op, receives `event` frames. */
class DuetWsClient extends DuetClient {
  private ws: WebSocket | undefined;
  localPort: number | undefined;

  protected open(): Promise<void> {
    const ws = new WebSocket(`${this.ctx.endpoint.url.replace(/^http/, "ws")}/v1/ws`, {
      headers: { authorization: `Bearer ${this.token}` },
      perMessageDeflate: false,
    });
    this.ws = ws;
    ws.once("upgrade", (res) => {
      this.localPort = res.socket.localPort;
    });
    return new Promise<void>((resolve, reject) => {
      let live = false;
      ws.on("message", (data: Buffer) => {
        const frame = data.toString();
        // Results are the most frequent frame; their ref is all the workload needs.
        if (frame.startsWith(RESULT_PREFIX)) {
          const end = frame.indexOf('"', RESULT_PREFIX.length);
          this.ctx.hooks.accepted(this, Number(frame.slice(RESULT_PREFIX.length, end)));
          return;
        }
        const parsed = JSON.parse(frame) as WireEvent & {
          op: string;
          ref?: string;
          error?: { code: string; message: string };
        };
        if (parsed.op === "event" || parsed.op === "hello") {
          // On the WebSocket the hello is {"op":"hello",...} with no type.
          this.event(parsed.op === "hello" ? { ...parsed, type: "hello" } : parsed);
          if (parsed.op === "hello" && !live) {
            live = true;
            resolve();
          }
        } else if (parsed.op === "error") {
          const ref = parsed.ref === undefined ? -1 : Number(parsed.ref);
          this.ctx.hooks.failed(this, ref, `${parsed.error?.code}: ${parsed.error?.message}`);
        }
      });
      ws.on("unexpected-response", (_req, res) => {
        reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`));
        ws.terminate();
      });
      ws.on("error", (err) => {
        if (!live) reject(err);
      });
      ws.on("close", (code, reason) => {
        if (!live) reject(new Error(`closed before hello: ${code} ${reason.toString()}`));
        else this.drop(`WebSocket closed ${code} ${reason.toString()}`);
      });
    });
  }

  override send(to: string, text: string, ref: number): void {
    this.ws?.send(`{"op":"send","ref":"${ref}","to":"${to}","text":"${text}"}`);
  }

  close(): void {
    this.closed = true;
    this.ws?.terminate();
  }
}

/** duet over SSE (`/v1/events`) or NDJSON streaming (`/v1/stream`). */
class DuetStreamClient extends DuetClient {
  private readonly kind: "sse" | "stream";
  private req: http.ClientRequest | undefined;

  constructor(ctx: ClientContext, user: string, kind: "sse" | "stream") {
    super(ctx, user);
    this.kind = kind;
  }

  protected open(): Promise<void> {
    const path = this.kind === "sse" ? "/v1/events" : "/v1/stream";
    return new Promise<void>((resolve, reject) => {
      let live = false;
      const req = http.get(`${this.ctx.endpoint.url}${path}`, {
        agent: this.ctx.streamAgent,
        headers: { authorization: `Bearer ${this.token}` },
      });
      this.req = req;
      req.on("response", (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`${path}: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding("utf8");
        let buffer = "";
        const separator = this.kind === "sse" ? "\n\n" : "\n";
        res.on("data", (chunk: string) => {
          buffer += chunk;
          let at = buffer.indexOf(separator);
          while (at !== -1) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + separator.length);
            const json = this.kind === "sse" ? sseData(block) : block;
            if (json !== null && json !== "") {
              const event = JSON.parse(json) as WireEvent;
              this.event(event);
              if (event.type === "hello" && !live) {
                live = true;
                resolve();
              }
            }
            at = buffer.indexOf(separator);
          }
        });
        res.on("close", () => {
          if (!live) reject(new Error(`${path} ended before hello`));
          else this.drop(`${path} ended`);
        });
      });
      req.on("error", (err) => {
        if (!live) reject(err);
        else this.drop(`${path}: ${err.message}`);
      });
    });
  }

  close(): void {
    this.closed = true;
    this.req?.destroy();
  }
}

/** The `data:` payload of one SSE block; null for a comment-only block. */
function sseData(block: string): string | null {
  let data: string | null = null;
  for (const line of block.split("\n")) {
    if (line.startsWith("data: ")) data = data === null ? line.slice(6) : `${data}\n${line.slice(6)}`;
  }
  return data;
}

/** duet over long-polling: one held GET /v1/poll at a time on the user's own keep-alive connection, resuming from the answer's seq. */
class DuetPollClient extends DuetClient {
  private conn: HttpConnection | undefined;
  private epoch = "";

  protected async open(): Promise<void> {
    // Without a cursor the poll answers at once with the current seq and epoch.
    const first = await new Promise<PollAnswer>((resolve, reject) =>
      this.poll("/v1/poll?timeout=0", (err, answer) => (err ? reject(err) : resolve(answer!))),
    );
    this.lastSeq = first.seq;
    this.epoch = first.epoch;
    this.loop();
  }

  private loop(): void {
    if (this.closed) return;
    const path = `/v1/poll?since=${this.lastSeq}&epoch=${this.epoch}&timeout=${this.ctx.pollTimeout}`;
    this.poll(path, (err, answer) => {
      if (err || !answer) {
        this.drop(`poll failed: ${err?.message}`);
        return;
      }
      for (const event of answer.events) this.event(event);
      this.lastSeq = Math.max(this.lastSeq, answer.seq);
      this.loop();
    });
  }

  private poll(path: string, done: (err: Error | null, answer: PollAnswer | null) => void): void {
    this.conn ??= this.ctx.sendPool.connection();
    this.conn.request(requestText("GET", path, this.ctx.host, this.authHeader), (err, answer) => {
      if (err || !answer) done(err ?? new Error("no answer"), null);
      else if (answer.status !== 200)
        done(new Error(`HTTP ${answer.status}: ${answer.body.slice(0, 200)}`), null);
      else {
        let parsed: PollAnswer;
        try {
          parsed = JSON.parse(answer.body) as PollAnswer;
        } catch (parseErr) {
          done(parseErr as Error, null);
          return;
        }
        done(null, parsed);
      }
    });
  }

  close(): void {
    this.closed = true;
    this.conn?.destroy();
  }
}

interface PollAnswer {
  events: WireEvent[];
  seq: number;
  epoch: string;
}

/** The Socket.IO relay over engine.io v4's WebSocket transport, spoken directly. */
class SocketIoClient implements BenchClient {
  readonly user: string;
  readonly acks = false;
  private readonly ctx: ClientContext;
  private ws: WebSocket | undefined;
  private closed = false;
  localPort: number | undefined;

  constructor(ctx: ClientContext, user: string) {
    this.ctx = ctx;
    this.user = user;
  }

  async connect(): Promise<void> {
    const token = await signToken(this.user, this.ctx.endpoint.secret, TOKEN_TTL_S);
    const url = `${this.ctx.endpoint.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws = ws;
    ws.once("upgrade", (res) => {
      this.localPort = res.socket.localPort;
    });
    return new Promise<void>((resolve, reject) => {
      let live = false;
      ws.on("message", (data: Buffer) => {
        const frame = data.toString();
        if (frame.startsWith("42")) {
          const [name, payload] = JSON.parse(frame.slice(2)) as [string, { from: string; text: string }];
          if (name === "message") this.ctx.hooks.message(this, payload.from, payload.text, null);
        } else if (frame === "2") {
          ws.send("3"); // engine.io ping/pong
        } else if (frame.startsWith("0{")) {
          ws.send(`40${JSON.stringify({ token })}`); // connect to "/" with auth
        } else if (frame.startsWith("40")) {
          live = true;
          resolve();
        } else if (frame.startsWith("44")) {
          reject(new Error(`Socket.IO refused the connection: ${frame.slice(2)}`));
          ws.terminate();
        }
      });
      ws.on("error", (err) => {
        if (!live) reject(err);
      });
      ws.on("close", (code) => {
        if (!live) reject(new Error(`closed before connect: ${code}`));
        else if (!this.closed) {
          this.closed = true;
          this.ctx.hooks.dropped(this, `WebSocket closed ${code}`);
        }
      });
    });
  }

  send(to: string, text: string, _ref: number): void {
    this.ws?.send(`42["send",{"to":"${to}","text":"${text}"}]`);
  }

  close(): void {
    this.closed = true;
    this.ws?.terminate();
  }
}
