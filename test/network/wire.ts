/** Raw transport clients for the network tests: SSE/NDJSON line readers and a WebSocket. */

import { WebSocket } from "ws";
import { sleep } from "../helpers/kit.js";
import { recordEvent, recordResponse, recordWsFrame } from "../helpers/protocol-check.js";
import { parseFrame } from "../helpers/protocol-tap.js";

/** Waits until `check` holds, polling every 20 ms; throws after `ms` saying what it waited for. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** An event as the transports carry it (flat JSON with a type). */
export type WireEvent = { type: string; seq?: number; [k: string]: unknown };

/**
 * A held-open SSE (`/v1/events`) or NDJSON (`/v1/stream`) response read line by line; `events`
 * collects each parsed event, `lines` every raw line (keep-alives included).
 */
export class StreamReader {
  readonly lines: string[] = [];
  readonly events: WireEvent[] = [];
  ended = false;
  status = 0;
  headers: Headers | undefined;
  private readonly abort = new AbortController();

  /** Resolves once the response headers are in (a buffering proxy may hold even those). */
  opened: Promise<void> = Promise.resolve();

  /** Starts the request without waiting for the response. */
  static start(url: string, token: string): StreamReader {
    const reader = new StreamReader();
    reader.opened = fetch(url, {
      headers: { authorization: `Bearer ${token}` },
      signal: reader.abort.signal,
    }).then(async (res) => {
      reader.status = res.status;
      reader.headers = res.headers;
      // These readers also go through proxies (nginx, the chaos proxy), whose own refusals are
      // not JSON: only duet's answers (a stream, or a JSON error) are checked.
      const type = res.headers.get("content-type");
      if (res.status === 200) recordResponse("GET", url, res.status, type, "");
      else if (type?.startsWith("application/json"))
        recordResponse("GET", url, res.status, type, await res.clone().text());
      if (!res.body) throw new Error("no body");
      void reader.pump(res.body, url.includes("/v1/events"));
    });
    reader.opened.catch(() => {
      reader.ended = true;
    });
    return reader;
  }

  static async open(url: string, token: string): Promise<StreamReader> {
    const reader = StreamReader.start(url, token);
    await reader.opened;
    return reader;
  }

  private async pump(body: ReadableStream<Uint8Array>, sse: boolean): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl = buffer.indexOf("\n");
        while (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          this.lines.push(line);
          const json = sse ? (line.startsWith("data: ") ? line.slice(6) : null) : line;
          if (json) {
            const event = JSON.parse(json) as WireEvent;
            recordEvent(sse ? "sse" : "stream", event);
            this.events.push(event);
          }
          nl = buffer.indexOf("\n");
        }
      }
    } catch {
      // aborted or reset
    }
    this.ended = true;
  }

  async next(predicate: (e: WireEvent) => boolean, ms: number, what: string): Promise<WireEvent> {
    await until(() => this.events.some(predicate), ms, what);
    return this.events.find(predicate)!;
  }

  close(): void {
    this.abort.abort();
  }
}

/** A WebSocket client of /v1/ws that collects frames. */
export class WsReader {
  readonly frames: Record<string, unknown>[] = [];
  closed = false;
  closeCode = 0;
  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data, isBinary) => {
      recordWsFrame(parseFrame(data, isBinary));
      this.frames.push(JSON.parse(data.toString()) as Record<string, unknown>);
    });
    ws.on("close", (code) => {
      this.closed = true;
      this.closeCode = code;
    });
    ws.on("error", () => {});
  }

  static async open(url: string, token: string): Promise<WsReader> {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}${url.includes("?") ? "&" : "?"}token=${token}`);
    const reader = new WsReader(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    return reader;
  }

  async next(
    predicate: (f: Record<string, unknown>) => boolean,
    ms: number,
    what: string,
  ): Promise<Record<string, unknown>> {
    await until(() => this.frames.some(predicate), ms, what);
    return this.frames.find(predicate)!;
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  close(): void {
    this.ws.terminate();
  }
}
