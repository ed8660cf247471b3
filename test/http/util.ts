/** Small helpers shared by the HTTP tests: unique users, raw sockets, NDJSON streams, waiting. */

import assert from "node:assert/strict";
import { connect } from "node:net";
import type { Message } from "../../src/core/types.js";
import { api, tokenFor } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { recordEvent, recordResponse } from "../helpers/protocol-check.js";

let counter = 0;
/** Unique user ids, so tests can share one server without seeing each other's data. */
export function names<const T extends readonly string[]>(...base: T): { [K in keyof T]: string } {
  counter++;
  const tag = `${process.pid}x${counter}`;
  return base.map((b) => `${b}_${tag}`) as { [K in keyof T]: string };
}

/** A user with a token, bound to a server. */
export interface Client {
  name: string;
  token: string;
  call(method: string, path: string, body?: unknown): ReturnType<typeof api>;
  send(to: string, text: string, extra?: Record<string, unknown>): Promise<Message>;
}

export async function client(base: string, name: string): Promise<Client> {
  const token = await tokenFor(name);
  const call = (method: string, path: string, body?: unknown) => api(base, token, method, path, body);
  return {
    name,
    token,
    call,
    async send(to, text, extra = {}) {
      const r = await call("POST", "/v1/messages", { to, text, ...extra });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.message as Message;
    },
  };
}

/** The error code of an error answer, asserting its shape and status. */
export function expectError(
  r: { status: number; body: Record<string, unknown> },
  status: number,
  code?: string,
): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const error = r.body.error as { code?: unknown; message?: unknown } | undefined;
  assert.ok(error, `no error body: ${JSON.stringify(r.body)}`);
  assert.equal(typeof error.code, "string");
  assert.match(error.code as string, /^[a-z][a-z0-9_]*$/);
  assert.equal(typeof error.message, "string");
  assert.ok((error.message as string).length > 0);
  if (code !== undefined) assert.equal(error.code, code, JSON.stringify(r.body));
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Writes `head` then each chunk of `chunks` to a fresh socket, stopping as soon as the server
 * answers, and resolves with everything the server sent (and the socket error code, if any).
 */
export function rawExchange(
  port: number,
  head: string | Buffer,
  chunks: Iterable<Buffer> = [],
  timeoutMs = 30_000,
): Promise<{ response: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let response = "";
    let error: string | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(response.slice(0, 200))}`));
    }, timeoutMs);
    socket.on("data", (d: Buffer) => {
      response += d.toString("latin1");
      // An answer with a Content-Length is complete once the body has arrived.
      const end = response.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: *(\d+)/i.exec(response);
      if (end >= 0 && length && response.length >= end + 4 + Number(length[1])) socket.end();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(error === undefined ? { response } : { response, error });
    });
    const iterator = chunks[Symbol.iterator]();
    const pump = () => {
      while (response === "" && !socket.destroyed) {
        const next = iterator.next();
        if (next.done) return;
        if (!socket.write(next.value)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    socket.write(head, () => pump());
  });
}

/** The status code of a raw HTTP answer (0 when there was none). */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}

/** An open NDJSON stream (GET /v1/stream) read line by line. */
export interface EventReader {
  /** Resolves with the next event matching `match` (events before it are consumed). */
  next(
    match?: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openStream(base: string, token: string, query = ""): Promise<EventReader> {
  const controller = new AbortController();
  const url = `${base}/v1/stream${query}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  recordResponse(
    "GET",
    url,
    res.status,
    res.headers.get("content-type"),
    res.status === 200 ? "" : await res.clone().text(),
  );
  assert.equal(res.status, 200);
  assert.ok(res.body);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const queue: Record<string, unknown>[] = [];
  let buffer = "";
  let wake: (() => void) | undefined;
  let done = false;
  let endedResolve: () => void = () => {};
  const ended = new Promise<void>((resolve) => {
    endedResolve = resolve;
  });
  void (async () => {
    try {
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        buffer += decoder.decode(value, { stream: true });
        let nl = buffer.indexOf("\n");
        while (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.trim() !== "") {
            const event = JSON.parse(line) as Record<string, unknown>;
            recordEvent("stream", event);
            queue.push(event);
          }
          nl = buffer.indexOf("\n");
        }
        wake?.();
      }
    } catch {
      // aborted or cut by the server: both end the stream
    }
    done = true;
    endedResolve();
    wake?.();
  })();
  return {
    ended,
    async next(match = () => true, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        while (queue.length > 0) {
          const event = queue.shift()!;
          if (match(event)) return event;
        }
        if (done) throw new Error("the stream ended");
        const left = deadline - Date.now();
        if (left <= 0) throw new Error("timed out waiting for an event");
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    },
    close() {
      controller.abort();
    },
  };
}

/** Every stored event of a user after `since` (short poll). */
export async function eventsOf(base: string, token: string, since = 0): Promise<Record<string, unknown>[]> {
  const r = await api(base, token, "GET", `/v1/poll?since=${since}&timeout=0`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.events as Record<string, unknown>[];
}
