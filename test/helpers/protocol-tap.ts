/**
 * Taps for what the tests do not read themselves: a fetch and a WebSocket class to give the SDK
 * (src/client), and a line reader for SSE and NDJSON bodies. Everything they see goes to
 * protocol-check.ts, which records what the documents do not describe (reported after the test).
 */
import WebSocket from "ws";
import { ACTIVE, recordEvent, recordResponse, recordWsFrame } from "./protocol-check.js";

/**
 * Feeds the lines of an SSE (`sse`) or NDJSON (`stream`) body, chunk by chunk, and records each
 * event (SSE: the `data:` lines up to a blank line; NDJSON: each non-empty line, pings included).
 */
export function eventLineReader(transport: "sse" | "stream"): (chunk: string) => void {
  let buffered = "";
  let data: string[] = [];
  const event = (json: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      parsed = { type: `(not JSON: ${json.slice(0, 80)})` };
    }
    recordEvent(transport, parsed);
  };
  return (chunk) => {
    const lines = (buffered + chunk).split("\n");
    buffered = lines.pop() ?? "";
    for (const raw of lines) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (transport === "stream") {
        if (line !== "") event(line);
      } else if (line === "") {
        if (data.length > 0) event(data.join("\n"));
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
    }
  };
}

function urlOf(input: Parameters<typeof fetch>[0]): string {
  if (typeof input === "string") return input;
  return input instanceof URL ? input.href : input.url;
}

const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * fetch, with every answer recorded: a JSON answer is read whole, checked and handed on as an
 * equal Response; an event stream is handed on through a pass-through that checks each event.
 */
export const checkedFetch: typeof fetch = async (input, init) => {
  if (!ACTIVE) return fetch(input, init);
  const res = await fetch(input, init);
  const method = init?.method ?? (input instanceof Request ? input.method : "GET");
  const url = urlOf(input);
  const type = res.headers.get("content-type");
  const rebuilt = (body: ConstructorParameters<typeof Response>[0]) =>
    new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  // A test proxy's own refusal (test/client/helpers.ts) is not duet's answer.
  if (res.headers.get("x-test-proxy") !== null) return res;
  if (res.body === null || NULL_BODY.has(res.status)) {
    recordResponse(method, url, res.status, type, "");
    return res;
  }
  const stream = type?.startsWith("text/event-stream")
    ? "sse"
    : type?.startsWith("application/x-ndjson")
      ? "stream"
      : undefined;
  if (stream !== undefined && res.status === 200) {
    recordResponse(method, url, res.status, type, "");
    const feed = eventLineReader(stream);
    const decoder = new TextDecoder();
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        feed(decoder.decode(chunk, { stream: true }));
        controller.enqueue(chunk);
      },
    });
    return rebuilt(res.body.pipeThrough(tap));
  }
  const text = await res.text();
  recordResponse(method, url, res.status, type, text);
  return rebuilt(text);
};

/** `ws`'s WebSocket, with every frame the server sends recorded. */
export class CheckedWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[], options?: WebSocket.ClientOptions) {
    super(address, protocols, options);
    this.on("message", (data, isBinary) => recordWsFrame(parseFrame(data, isBinary)));
  }
}

/** A received WebSocket message as a frame to check (a binary or non-JSON one cannot match). */
export function parseFrame(data: WebSocket.RawData, isBinary: boolean): unknown {
  if (isBinary) return { op: "(binary)" };
  const text = Array.isArray(data)
    ? Buffer.concat(data).toString()
    : Buffer.from(data as ArrayBuffer).toString();
  try {
    return JSON.parse(text);
  } catch {
    return { op: `(not JSON: ${text.slice(0, 80)})` };
  }
}
