import type { Cursor, DuetEvent, HelloEvent } from "../core/types.js";
import { CLOSE_ADVICE, ERROR_ADVICE } from "./error-table.js";
import { DuetClientError } from "./errors.js";
import { endpoint, errorFrom, type FetchLike, NO_STORE } from "./http.js";
import { SseParser } from "./sse-parser.js";

/** The transports, best first: the order the client tries them in (SPEC section 6). */
export const TRANSPORTS = ["ws", "sse", "stream", "longpoll", "poll"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** What a WebSocket object must offer: the browser's, Node 22's global, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Why a transport ended. `opened` tells whether it had delivered its hello. */
export interface TransportEnd {
  /** `http`: answered with an error status; `network`: no answer; `protocol`: an answer that is
   * not duet's; `closed`: ended after it started (server restart, proxy timeout...). */
  kind: "http" | "network" | "protocol" | "closed";
  error?: DuetClientError;
  /** WebSocket close code, when there was one. */
  closeCode?: number;
}

/** The client's side of a transport: where it delivers what it receives. */
export interface TransportContext {
  base: string;
  token: string;
  /** The cursor now: streams read it once when they open, polls before each request. */
  cursor(): Cursor | null;
  fetch: FetchLike;
  WebSocket: WebSocketConstructor | undefined;
  longPollSeconds: number;
  pollIntervalMs: number;
  pingMs: number;
  /** The transport works: it received its hello (streams) or its first answer (polls). */
  onOpen(hello: HelloEvent | null): void;
  onEvent(event: DuetEvent): void;
  /** A poll answer's cursor, after its events. */
  onPollCursor(seq: number, epoch: string): void;
  /** Any bytes arrived (keep-alives included): the connection is alive. */
  onActivity(): void;
  /** Called once, unless the client closed the transport itself. */
  onEnd(end: TransportEnd): void;
}

export interface Transport {
  readonly name: TransportName;
  /** Whether silence means a dead connection (streams: yes; polls time out on their own). */
  readonly watchdog: boolean;
  close(): void;
  /** WebSocket only: a request op (`send`, `read`) answered by `result` or `error`. */
  request?(op: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>>;
  /** WebSocket only: a fire-and-forget op (`typing`). */
  notify?(op: Record<string, unknown>): boolean;
}

function cursorQuery(cursor: Cursor | null): Record<string, string | number | undefined> {
  return cursor === null ? {} : { since: cursor.seq, epoch: cursor.epoch };
}

/**
 * The error a WebSocket close stands for: duet puts its code in the close reason; a close by a
 * library or a proxy (1009 from the WebSocket library, 1001, a cut) is known by its close code.
 */
function closeErrorCode(closeCode: number, reason: string | undefined): string {
  if (reason !== undefined && ERROR_ADVICE.has(reason)) return reason;
  return CLOSE_ADVICE.get(closeCode)?.code ?? "connection_lost";
}

function isEvent(value: unknown): value is DuetEvent {
  return (
    typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string"
  );
}

/** Parses one JSON line or frame; anything that is not an event object is ignored (null). */
function parseEvent(text: string): DuetEvent | null {
  try {
    const value: unknown = JSON.parse(text);
    return isEvent(value) ? value : null;
  } catch {
    return null;
  }
}

/** Streams read hello first, then events; the first hello opens the transport. */
class StreamReceiver {
  opened = false;
  private readonly ctx: TransportContext;

  constructor(ctx: TransportContext) {
    this.ctx = ctx;
  }

  receive(event: DuetEvent | null): void {
    if (event === null) return;
    if (event.type === "hello") {
      if (!this.opened) {
        this.opened = true;
        this.ctx.onOpen(event);
      }
      return;
    }
    if (!this.opened) return; // nothing counts before hello
    this.ctx.onEvent(event);
  }
}

/** WebSocket: `{"op":"hello"}`, `{"op":"event",...}`, and answers to our ops by `ref`. */
export function openWebSocket(ctx: TransportContext): Transport {
  const Ctor = ctx.WebSocket;
  if (Ctor === undefined) throw new DuetClientError("protocol", "No WebSocket implementation.");
  const url = endpoint(ctx.base, "/v1/ws", { ...cursorQuery(ctx.cursor()), token: ctx.token });
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const socket = new Ctor(url.toString());
  const receiver = new StreamReceiver(ctx);
  const waiting = new Map<string, { resolve(v: Record<string, unknown>): void; reject(e: Error): void }>();
  let nextRef = 1;
  let ended = false;
  const pinger = setInterval(() => {
    if (socket.readyState === 1) socket.send('{"op":"ping"}');
  }, ctx.pingMs);

  const finish = (end: TransportEnd | null) => {
    if (ended) return;
    ended = true;
    clearInterval(pinger);
    for (const w of waiting.values()) {
      w.reject(new DuetClientError("connection_lost", "The WebSocket closed before the server answered."));
    }
    waiting.clear();
    if (end !== null) ctx.onEnd(end);
  };

  socket.onmessage = (event: { data: unknown }) => {
    ctx.onActivity();
    if (typeof event.data !== "string") return;
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(event.data) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof frame !== "object" || frame === null) return;
    const { op, ...rest } = frame;
    if (op === "hello") receiver.receive({ ...rest, type: "hello" } as HelloEvent);
    else if (op === "event") receiver.receive(isEvent(rest) ? rest : null);
    else if ((op === "result" || op === "error") && typeof rest.ref === "string") {
      const w = waiting.get(rest.ref);
      if (w === undefined) return;
      waiting.delete(rest.ref);
      if (op === "result") w.resolve(rest);
      else {
        const error = rest.error as { code?: unknown; message?: unknown; reason?: unknown } | undefined;
        w.reject(
          new DuetClientError(
            typeof error?.code === "string" ? error.code : "internal",
            typeof error?.message === "string" ? error.message : "The server refused the request.",
            undefined,
            undefined,
            typeof error?.reason === "string" ? error.reason : undefined,
          ),
        );
      }
    }
  };
  socket.onclose = (event: { code: number; reason?: string }) => {
    // 1006: no close frame (refused upgrade, network cut); otherwise the server closed it.
    const kind = !receiver.opened && event.code === 1006 ? "network" : "closed";
    finish({
      kind,
      closeCode: event.code,
      error: new DuetClientError(
        closeErrorCode(event.code, event.reason),
        `WebSocket closed (${event.code}).`,
      ),
    });
  };
  socket.onerror = () => {
    // onclose follows with the details.
  };

  return {
    name: "ws",
    watchdog: true,
    close() {
      finish(null);
      socket.onmessage = null;
      socket.onclose = null;
      try {
        socket.close(1000, "client closed");
      } catch {
        // not open yet in some implementations: nothing to close
      }
    },
    request(op, timeoutMs) {
      return new Promise((resolve, reject) => {
        if (ended || socket.readyState !== 1) {
          reject(new DuetClientError("connection_lost", "The WebSocket is not open."));
          return;
        }
        const ref = String(nextRef++);
        const timer = setTimeout(() => {
          if (waiting.delete(ref))
            reject(new DuetClientError("timeout", "The server did not answer in time."));
        }, timeoutMs);
        waiting.set(ref, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        socket.send(JSON.stringify({ ...op, ref }));
      });
    },
    notify(op) {
      if (ended || socket.readyState !== 1) return false;
      socket.send(JSON.stringify(op));
      return true;
    },
  };
}

/**
 * A held-open GET read with fetch: SSE (`/v1/events`, text/event-stream) or NDJSON
 * (`/v1/stream`). Using fetch rather than EventSource lets the token travel in a header, works the
 * same in Node 20 (which has no EventSource), and keeps reconnection in the client's hands.
 */
function openFetchStream(ctx: TransportContext, name: "sse" | "stream"): Transport {
  const abort = new AbortController();
  const receiver = new StreamReceiver(ctx);
  let ended = false;
  const finish = (end: TransportEnd | null) => {
    if (ended) return;
    ended = true;
    abort.abort();
    if (end !== null) ctx.onEnd(end);
  };

  const path = name === "sse" ? "/v1/events" : "/v1/stream";
  const run = async () => {
    let res: Response;
    try {
      res = await ctx.fetch(endpoint(ctx.base, path, cursorQuery(ctx.cursor())), {
        headers: {
          authorization: `Bearer ${ctx.token}`,
          accept: name === "sse" ? "text/event-stream" : "application/x-ndjson",
        },
        signal: abort.signal,
        ...NO_STORE,
      });
    } catch (err) {
      finish({ kind: "network", error: new DuetClientError("network", String(err)) });
      return;
    }
    if (!res.ok) {
      finish({ kind: "http", error: await errorFrom(res) });
      return;
    }
    const type = res.headers.get("content-type") ?? "";
    const expected = name === "sse" ? "text/event-stream" : "application/x-ndjson";
    if (!type.startsWith(expected) || res.body === null) {
      await res.body?.cancel().catch(() => {});
      finish({ kind: "protocol", error: new DuetClientError("bad_response", `Expected ${expected}.`) });
      return;
    }
    const decoder = new TextDecoder();
    let lines = "";
    const sse =
      name === "sse"
        ? new SseParser(
            (m) => receiver.receive(parseEvent(m.data)),
            () => {},
          )
        : null;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        ctx.onActivity();
        const text = decoder.decode(value, { stream: true });
        if (sse !== null) {
          sse.feed(text);
          continue;
        }
        lines += text;
        let nl = lines.indexOf("\n");
        while (nl !== -1) {
          const line = lines.slice(0, nl).trim();
          lines = lines.slice(nl + 1);
          if (line !== "") {
            const event = parseEvent(line);
            if (event?.type !== ("ping" as string)) receiver.receive(event);
          }
          nl = lines.indexOf("\n");
        }
      }
      finish({ kind: receiver.opened ? "closed" : "protocol" });
    } catch (err) {
      finish({
        kind: receiver.opened ? "closed" : "network",
        error: new DuetClientError("network", String(err)),
      });
    }
  };
  void run();

  return {
    name,
    watchdog: true,
    close: () => finish(null),
  };
}

export const openSse = (ctx: TransportContext) => openFetchStream(ctx, "sse");
export const openNdjson = (ctx: TransportContext) => openFetchStream(ctx, "stream");

interface PollAnswer {
  events: unknown[];
  seq: number;
  epoch: string;
}

function isPollAnswer(value: unknown): value is PollAnswer {
  const v = value as PollAnswer;
  return (
    typeof v === "object" &&
    v !== null &&
    Array.isArray(v.events) &&
    typeof v.seq === "number" &&
    typeof v.epoch === "string"
  );
}

/** Long-polling (`timeout=longPollSeconds`) or short polling (`timeout=0`, every pollIntervalMs). */
function openPoll(ctx: TransportContext, name: "longpoll" | "poll"): Transport {
  const abort = new AbortController();
  let ended = false;
  let opened = false;
  let wake: (() => void) | undefined;
  const finish = (end: TransportEnd | null) => {
    if (ended) return;
    ended = true;
    abort.abort();
    wake?.();
    if (end !== null) ctx.onEnd(end);
  };
  const timeout = name === "longpoll" ? ctx.longPollSeconds : 0;

  const run = async () => {
    while (!ended) {
      // Past the server's own timeout, an unanswered poll is a dead connection.
      const deadline = new AbortController();
      // The first poll answers at once (timeout=0): it proves the transport works, and goes online.
      const hold = opened ? timeout : 0;
      const timer = setTimeout(() => deadline.abort(), hold * 1000 + 15_000);
      const onAbort = () => deadline.abort();
      abort.signal.addEventListener("abort", onAbort);
      let answer: PollAnswer;
      try {
        const res = await ctx.fetch(
          endpoint(ctx.base, "/v1/poll", { ...cursorQuery(ctx.cursor()), timeout: hold }),
          {
            headers: { authorization: `Bearer ${ctx.token}` },
            signal: deadline.signal,
            ...NO_STORE,
          },
        );
        if (!res.ok) {
          finish({ kind: opened ? "closed" : "http", error: await errorFrom(res) });
          return;
        }
        const body: unknown = await res.json().catch(() => null);
        if (!isPollAnswer(body)) {
          finish({
            kind: opened ? "closed" : "protocol",
            error: new DuetClientError("bad_response", "Not a poll answer."),
          });
          return;
        }
        answer = body;
      } catch (err) {
        finish({ kind: opened ? "closed" : "network", error: new DuetClientError("network", String(err)) });
        return;
      } finally {
        clearTimeout(timer);
        abort.signal.removeEventListener("abort", onAbort);
      }
      if (ended) return;
      ctx.onActivity();
      if (!opened) {
        opened = true;
        ctx.onOpen(null);
      }
      for (const event of answer.events) if (isEvent(event) && !ended) ctx.onEvent(event);
      if (ended) return;
      ctx.onPollCursor(answer.seq, answer.epoch);
      if (name === "poll") {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ctx.pollIntervalMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  };
  void run();

  return { name, watchdog: false, close: () => finish(null) };
}

export const openLongPoll = (ctx: TransportContext) => openPoll(ctx, "longpoll");
export const openShortPoll = (ctx: TransportContext) => openPoll(ctx, "poll");

export const OPENERS: Record<TransportName, (ctx: TransportContext) => Transport> = {
  ws: openWebSocket,
  sse: openSse,
  stream: openNdjson,
  longpoll: openLongPoll,
  poll: openShortPoll,
};
