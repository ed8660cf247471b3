/**
 * Small test clients for duet's five transports (SPEC section 6), built on the real client
 * libraries a user would use: `ws` for WebSocket, the `eventsource` package for SSE, undici's
 * fetch for NDJSON streaming and (long-)polling. Each client records every event it receives in
 * arrival order, tracks its resume cursor like an SDK would, can be dropped abruptly (its TCP
 * sockets destroyed mid-stream, no goodbye) and reconnected from its cursor by the test.
 */
import type { Socket } from "node:net";
import { EventSource } from "eventsource";
import { Agent, buildConnector, fetch } from "undici";
import WebSocket from "ws";
import { at, sleep } from "./kit.js";
import { assertResponse, recordEvent, recordResponse, recordWsFrame } from "./protocol-check.js";
import { parseFrame } from "./protocol-tap.js";

export type TransportName = "ws" | "sse" | "stream" | "longpoll" | "poll";
export const TRANSPORTS: readonly TransportName[] = ["ws", "sse", "stream", "longpoll", "poll"];

/** An event as it arrives: flat JSON with a `type` (the WebSocket `op` is stripped). */
export interface WireEvent {
  type: string;
  seq?: number;
  [key: string]: unknown;
}

export interface Cursor {
  since?: number;
  epoch?: string;
}

export interface ConnectOptions extends Cursor {
  /** SSE: resume with a `Last-Event-ID` header (what a browser sends) instead of `since`. */
  lastEventId?: string;
  /** Long-poll `timeout` in seconds (default 25). */
  pollTimeout?: number;
  /** SSE: let EventSource reconnect by itself (with Last-Event-ID) when the stream drops. */
  autoReconnect?: boolean;
  /** WebSocket client options (e.g. `autoPong: false`). */
  ws?: WebSocket.ClientOptions;
}

export interface Ended {
  /** WebSocket close code, or the HTTP status of a refused request. */
  code?: number;
  reason?: string;
  error?: string;
}

const WAIT_MS = 30_000;

/**
 * Waits for a condition (checked every few ms); the timeout is only a guard against a hang, long
 * enough for a loaded machine, never a measurement. A predicate that throws fails the wait.
 */
export function waitUntil(what: string, predicate: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = (): boolean => {
      try {
        if (predicate()) {
          resolve();
          return true;
        }
      } catch (err) {
        reject(err);
        return true;
      }
      if (Date.now() - started > timeoutMs) {
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        return true;
      }
      return false;
    };
    if (check()) return;
    const timer = setInterval(() => {
      if (check()) clearInterval(timer);
    }, 5);
  });
}

function query(cursor: Cursor, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  if (cursor.since !== undefined) q.set("since", String(cursor.since));
  if (cursor.epoch !== undefined) q.set("epoch", cursor.epoch);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

/** An undici Agent that remembers its sockets, so a test can destroy them abruptly. */
function trackingAgent(sockets: Set<Socket>, ports: number[]): Agent {
  const connect = buildConnector({});
  return new Agent({
    connect: (options, callback) =>
      connect(options, (...args) => {
        const socket = args[1];
        if (socket) {
          sockets.add(socket);
          if (socket.localPort !== undefined) ports.push(socket.localPort);
          socket.once("close", () => sockets.delete(socket));
        }
        callback(...args);
      }),
  });
}

export abstract class TestClient {
  abstract readonly transport: TransportName;
  /** Every event received, in arrival order (keep-alives excluded). */
  readonly events: WireEvent[] = [];
  /** Keep-alives seen: SSE comment lines, NDJSON `{"type":"ping"}` lines, WebSocket pings. */
  pings = 0;
  /** Where to resume: the seq of the last stored event (or reset/hello) seen, and the epoch. */
  readonly cursor: Cursor;
  ended: Ended | undefined;
  /** Resolves once the connection is over (closed by either side, refused, or failed). */
  readonly closed: Promise<Ended>;
  private resolveClosed!: (info: Ended) => void;
  private readonly resumed: boolean;
  protected readonly sockets = new Set<Socket>();
  /** Local ports of every TCP connection this client opened (to find the server's end of it). */
  readonly localPorts: number[] = [];

  constructor(options: ConnectOptions) {
    // Last-Event-ID, when given, is the cursor the server resumes from.
    const since = options.lastEventId !== undefined ? Number(options.lastEventId) : options.since;
    this.cursor = { since, epoch: options.epoch };
    this.resumed = since !== undefined;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  protected receive(event: WireEvent): void {
    // Once dropped or closed by the test, late bytes still in flight are not "received".
    if (this.ended) return;
    // A WebSocket's frames are checked whole, a poll's answers whole; SSE and NDJSON events here.
    if (this.transport === "sse" || this.transport === "stream") recordEvent(this.transport, event);
    this.events.push(event);
    if (event.type === "hello") {
      this.cursor.epoch = event.epoch as string;
      // hello carries the head; with a cursor the replay that follows starts below it.
      if (!this.resumed && this.cursor.since === undefined) this.cursor.since = event.seq;
    } else if (typeof event.seq === "number") {
      this.cursor.since = event.seq;
      if (event.type === "reset") this.cursor.epoch = event.epoch as string;
    }
  }

  protected end(info: Ended): void {
    if (this.ended) return;
    this.ended = info;
    this.resolveClosed(info);
  }

  /** Stored events (`message`, `read`) in arrival order. */
  stored(): WireEvent[] {
    return this.events.filter((e) => e.type === "message" || e.type === "read");
  }

  /** Texts of the `message` events received, in order. */
  texts(): string[] {
    return this.events.filter((e) => e.type === "message").map((e) => (e.message as { text: string }).text);
  }

  ofType(type: string): WireEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  waitFor(what: string, predicate: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
    return waitUntil(`${this.transport}: ${what}`, predicate, timeoutMs);
  }

  /** Until the cursor has reached `seq`. */
  waitForSeq(seq: number, timeoutMs = WAIT_MS): Promise<void> {
    return this.waitFor(
      `seq ${seq}`,
      () => {
        if ((this.cursor.since ?? -1) >= seq) return true;
        if (this.ended)
          throw new Error(
            `${this.transport} ended at seq ${this.cursor.since}: ${JSON.stringify(this.ended)}`,
          );
        return false;
      },
      timeoutMs,
    );
  }

  /** Resolves when the stream has said hello (a poll: when its first answer came). */
  abstract ready(): Promise<void>;

  /** Drops the connection without a goodbye: its TCP sockets are destroyed mid-stream. */
  abstract abort(): void;

  /** Closes politely and waits until it is closed. */
  abstract close(): Promise<void>;
}

/** WebSocket (`GET /v1/ws`), token in the query as a browser would pass it. */
export class WsClient extends TestClient {
  readonly transport = "ws";
  readonly ws: WebSocket;
  /** Every frame received, parsed (hello, event, result, error, pong). */
  readonly frames: Record<string, unknown>[] = [];
  private nextRef = 0;

  constructor(base: string, token: string, options: ConnectOptions = {}) {
    super(options);
    const url = `${base.replace(/^http/, "ws")}/v1/ws${query(options, { token })}`;
    this.ws = new WebSocket(url, { perMessageDeflate: false, ...options.ws });
    this.ws.on("upgrade", (res) => {
      this.sockets.add(res.socket);
      if (res.socket.localPort !== undefined) this.localPorts.push(res.socket.localPort);
    });
    this.ws.on("message", (data, isBinary) => {
      recordWsFrame(parseFrame(data, isBinary));
      if (isBinary) {
        this.frames.push({ op: "binary?" });
        return;
      }
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      this.frames.push(frame);
      if (frame.op === "hello" || frame.op === "event") {
        const { op: _op, ...event } = frame;
        this.receive(event as WireEvent);
      }
    });
    this.ws.on("ping", () => this.pings++);
    this.ws.on("unexpected-response", (_req, res) => {
      this.end({ code: res.statusCode, error: `HTTP ${res.statusCode}` });
      // The refusal's body is checked against the upgrade's documented answers.
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => {
        recordResponse("GET", url, res.statusCode ?? 0, res.headers["content-type"] ?? null, body);
        this.ws.terminate();
      });
      res.on("error", () => this.ws.terminate());
    });
    this.ws.on("error", (err) => {
      if (this.ws.readyState !== WebSocket.OPEN) this.end({ error: err.message });
    });
    this.ws.on("close", (code, reason) => this.end({ code, reason: reason.toString() }));
  }

  ready(): Promise<void> {
    return waitUntil("ws hello", () => {
      if (this.ended && this.events.length === 0) throw new Error(`ws ended: ${JSON.stringify(this.ended)}`);
      return this.events.length > 0;
    });
  }

  /** Sends an op with a fresh `ref` and resolves with its `result` or `error` frame. */
  async request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ref = `r${++this.nextRef}`;
    this.ws.send(JSON.stringify({ ...frame, ref }));
    let answer: Record<string, unknown> | undefined;
    await this.waitFor(`answer to ${ref}`, () => {
      answer = this.frames.find((f) => f.ref === ref && (f.op === "result" || f.op === "error"));
      if (answer === undefined && this.ended)
        throw new Error(`closed before answering ${ref}: ${JSON.stringify(this.ended)}`);
      return answer !== undefined;
    });
    return answer as Record<string, unknown>;
  }

  /** Frames that arrived after index `from`, for checking answers to ref-less frames. */
  framesAfter(from: number): Record<string, unknown>[] {
    return this.frames.slice(from);
  }

  /** Stops reading the socket (the server's writes back up); `resume` reads again. */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  abort(): void {
    this.end({ error: "aborted" });
    this.ws.terminate();
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(1000);
    await this.closed;
  }
}

/** Server-Sent Events (`GET /v1/events`) through the `eventsource` package, as a browser would. */
export class SseClient extends TestClient {
  readonly transport = "sse";
  readonly es: EventSource;
  /** Connections EventSource opened (more than one after an automatic reconnect). */
  opens = 0;
  /** The Last-Event-ID header of each request EventSource made. */
  readonly sentLastEventIds: (string | null)[] = [];
  private readonly agent: Agent;

  constructor(base: string, token: string, options: ConnectOptions = {}) {
    super(options);
    this.agent = trackingAgent(this.sockets, this.localPorts);
    const url = `${base}/v1/events${query(options)}`;
    this.es = new EventSource(url, {
      fetch: async (input, init) => {
        const headers: Record<string, string> = { ...init.headers, authorization: `Bearer ${token}` };
        if (options.lastEventId !== undefined && headers["Last-Event-ID"] === undefined) {
          headers["Last-Event-ID"] = options.lastEventId;
        }
        this.sentLastEventIds.push(headers["Last-Event-ID"] ?? null);
        const res = await fetch(input, { ...init, headers, dispatcher: this.agent });
        // Its events are checked as they arrive (receive); the answer's status and type here.
        const type = res.headers.get("content-type");
        if (res.status === 200) recordResponse("GET", String(input), res.status, type, "");
        else recordResponse("GET", String(input), res.status, type, await res.clone().text());
        return res;
      },
    });
    this.es.onopen = () => {
      this.opens++;
    };
    this.es.onmessage = (message) => this.receive(JSON.parse(message.data) as WireEvent);
    this.es.onerror = (err) => {
      if (options.autoReconnect && this.es.readyState === EventSource.CONNECTING) return;
      this.es.close();
      this.end({ code: err.code, error: err.message ?? "stream ended" });
    };
  }

  ready(): Promise<void> {
    return waitUntil("sse hello", () => {
      if (this.ended && this.events.length === 0) throw new Error(`sse ended: ${JSON.stringify(this.ended)}`);
      return this.events.length > 0;
    });
  }

  /** Destroys the TCP connection under EventSource; with autoReconnect it reconnects by itself. */
  dropSocket(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  abort(): void {
    this.end({ error: "aborted" });
    this.dropSocket();
    this.es.close();
    void this.agent.destroy();
  }

  async close(): Promise<void> {
    this.es.close();
    this.end({ reason: "closed by client" });
    await this.agent.close();
  }
}

/**
 * A held-open HTTP response read line by line: NDJSON (`GET /v1/stream`), or SSE parsed by hand
 * (to see its comment lines, and to stop reading it for the backpressure tests).
 */
export class HttpStreamClient extends TestClient {
  readonly transport: "stream" | "sse";
  status = 0;
  contentType = "";
  /** Bytes of body received. */
  bytes = 0;
  private readonly agent: Agent;
  private readonly controller = new AbortController();
  private paused: { promise: Promise<void>; resume: () => void } | undefined;

  constructor(base: string, token: string, format: "ndjson" | "sse", options: ConnectOptions = {}) {
    super(options);
    this.transport = format === "ndjson" ? "stream" : "sse";
    this.agent = trackingAgent(this.sockets, this.localPorts);
    const path = format === "ndjson" ? "/v1/stream" : "/v1/events";
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId;
    void this.run(`${base}${path}${query(options)}`, headers, format);
  }

  private async run(url: string, headers: Record<string, string>, format: "ndjson" | "sse"): Promise<void> {
    try {
      const res = await fetch(url, { headers, dispatcher: this.agent, signal: this.controller.signal });
      this.status = res.status;
      this.contentType = res.headers.get("content-type") ?? "";
      if (res.status !== 200 || !res.body) {
        const text = await res.text();
        recordResponse("GET", url, res.status, res.headers.get("content-type"), text);
        this.end({ code: res.status, error: text });
        return;
      }
      recordResponse("GET", url, res.status, res.headers.get("content-type"), "");
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffered = "";
      let data: string[] = [];
      for (;;) {
        if (this.paused) await this.paused.promise;
        const { done, value } = await reader.read();
        if (done) break;
        this.bytes += value.byteLength;
        const lines = (buffered + decoder.decode(value, { stream: true })).split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          if (format === "ndjson") {
            if (line === "") continue;
            const event = JSON.parse(line) as WireEvent;
            if (event.type === "ping") recordEvent("stream", event);
            if (event.type === "ping") this.pings++;
            else this.receive(event);
          } else if (line === "") {
            if (data.length > 0) this.receive(JSON.parse(data.join("\n")) as WireEvent);
            data = [];
          } else if (line.startsWith(":")) {
            this.pings++;
          } else if (line.startsWith("data:")) {
            data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
          }
        }
      }
      this.end({ reason: "stream ended" });
    } catch (err) {
      this.end({ error: (err as Error).message });
    }
  }

  ready(): Promise<void> {
    return waitUntil(`${this.transport} hello`, () => {
      if (this.ended && this.events.length === 0)
        throw new Error(`stream ended: ${JSON.stringify(this.ended)}`);
      return this.events.length > 0;
    });
  }

  /** Stops reading: the TCP socket is paused, so the server's writes back up. */
  pause(): void {
    let resume = () => {};
    const promise = new Promise<void>((r) => {
      resume = r;
    });
    this.paused = { promise, resume };
    for (const socket of this.sockets) socket.pause();
  }

  resume(): void {
    const paused = this.paused;
    this.paused = undefined;
    for (const socket of this.sockets) socket.resume();
    paused?.resume();
  }

  abort(): void {
    this.end({ error: "aborted" });
    for (const socket of this.sockets) socket.destroy();
    this.controller.abort();
    void this.agent.destroy();
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.closed;
    await this.agent.close();
  }
}

export interface PollAnswer {
  status: number;
  events: WireEvent[];
  seq: number;
  epoch: string;
  error?: { code: string; message: string };
}

/** One `GET /v1/poll` (short poll unless `timeout` says otherwise). */
export async function pollOnce(
  base: string,
  token: string,
  cursor: Cursor,
  timeout = 0,
  dispatcher?: Agent,
  signal?: AbortSignal,
): Promise<PollAnswer> {
  const url = `${base}/v1/poll${query(cursor, { timeout: String(timeout) })}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, dispatcher, signal });
  const text = await res.text();
  // Recorded, not thrown: PollClient runs this outside the test's flow.
  recordResponse("GET", url, res.status, res.headers.get("content-type"), text);
  const body = JSON.parse(text) as Omit<PollAnswer, "status">;
  return { status: res.status, ...body };
}

/**
 * Long-polling (`timeout` > 0) or short polling (`timeout=0`) in a loop, each request from the
 * cursor of the previous answer. The first request carries the given cursor (or none: "now").
 */
export class PollClient extends TestClient {
  readonly transport: "longpoll" | "poll";
  readonly answers: PollAnswer[] = [];
  /** Requests sent so far (a held long-poll counts once it is sent). */
  requests = 0;
  private stopped = false;
  private readonly agent: Agent;
  private readonly controller = new AbortController();

  constructor(base: string, token: string, mode: "longpoll" | "poll", options: ConnectOptions = {}) {
    super(options);
    this.transport = mode;
    this.agent = trackingAgent(this.sockets, this.localPorts);
    void this.run(base, token, mode === "poll" ? 0 : (options.pollTimeout ?? 25));
  }

  private async run(base: string, token: string, timeout: number): Promise<void> {
    try {
      while (!this.stopped) {
        this.requests++;
        const answer = await pollOnce(base, token, this.cursor, timeout, this.agent, this.controller.signal);
        if (this.stopped) break;
        if (answer.status !== 200) {
          this.end({ code: answer.status, error: answer.error?.code });
          return;
        }
        this.answers.push(answer);
        for (const event of answer.events) this.receive(event);
        this.cursor.since = answer.seq;
        this.cursor.epoch = answer.epoch;
        // A short-polling client asks again after a moment; a long-poll goes straight back.
        if (timeout === 0) await sleep(20);
      }
      this.end({ reason: "stopped" });
    } catch (err) {
      this.end({ error: (err as Error).message });
    }
  }

  ready(): Promise<void> {
    return waitUntil(`${this.transport} first answer`, () => {
      if (this.ended && this.answers.length === 0)
        throw new Error(`poll ended: ${JSON.stringify(this.ended)}`);
      return this.answers.length > 0;
    });
  }

  abort(): void {
    this.stopped = true;
    this.end({ error: "aborted" });
    for (const socket of this.sockets) socket.destroy();
    this.controller.abort();
    void this.agent.destroy();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
    await this.closed;
    await this.agent.close();
  }
}

/** Opens `transport` for the holder of `token`, from `options`' cursor, and waits until it is ready. */
export async function connect(
  transport: TransportName,
  base: string,
  token: string,
  options: ConnectOptions = {},
): Promise<TestClient> {
  const client = open(transport, base, token, options);
  await client.ready();
  return client;
}

export function open(
  transport: TransportName,
  base: string,
  token: string,
  options: ConnectOptions = {},
): TestClient {
  switch (transport) {
    case "ws":
      return new WsClient(base, token, options);
    case "sse":
      return new SseClient(base, token, options);
    case "stream":
      return new HttpStreamClient(base, token, "ndjson", options);
    case "longpoll":
    case "poll":
      return new PollClient(base, token, transport, options);
  }
}

/**
 * Sends `count` messages from the holder of `token` to `to` over HTTP, `parallel` at a time;
 * resolves with the stored messages' ids in the order the server answered. Every send must get 201.
 */
export async function sendMany(
  base: string,
  token: string,
  to: string,
  count: number,
  options: { parallel?: number; prefix?: string; onSent?: (n: number) => void } = {},
): Promise<string[]> {
  const parallel = options.parallel ?? 50;
  const prefix = options.prefix ?? "m";
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${base}/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ to, text: `${prefix}${i}` }),
      });
      const text = await res.text();
      assertResponse("POST", `${base}/v1/messages`, res.status, res.headers.get("content-type"), text);
      const body = JSON.parse(text) as { message?: { id: string }; error?: unknown };
      if (res.status !== 201 || !body.message)
        throw new Error(`send ${i}: ${res.status} ${JSON.stringify(body)}`);
      ids.push(body.message.id);
      options.onSent?.(ids.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return ids;
}

/**
 * Asserts the exactly-once property over everything a user received across several connections:
 * stored events with strictly consecutive seqs (the store's per-user seq grows by exactly 1), no
 * seq twice, none missing between `from` and `to` inclusive. Returns the events.
 */
export function consecutive(events: WireEvent[], from: number, to: number): string | null {
  const seqs = events.map((e) => e.seq as number);
  if (seqs.length !== to - from + 1) {
    return `expected seqs ${from}..${to} (${to - from + 1}), got ${seqs.length}: ${summarize(seqs)}`;
  }
  for (let i = 0; i < seqs.length; i++) {
    if (seqs[i] !== from + i)
      return `at index ${i} expected seq ${from + i}, got ${seqs[i]}: ${summarize(seqs)}`;
  }
  return null;
}

function summarize(seqs: number[]): string {
  const runs: string[] = [];
  let start = 0;
  for (let i = 1; i <= seqs.length; i++) {
    if (i === seqs.length || at(seqs, i) !== at(seqs, i - 1) + 1) {
      runs.push(start === i - 1 ? `${seqs[start]}` : `${seqs[start]}-${seqs[i - 1]}`);
      start = i;
    }
  }
  return runs.join(",").slice(0, 400);
}
