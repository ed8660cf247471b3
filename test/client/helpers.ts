/** Shared by the SDK tests: clients with test tokens, event recorders, condition waits, a proxy. */

import { createServer, request, type Server } from "node:http";
import { type AddressInfo, connect as netConnect } from "node:net";
import {
  type ConnectOptions,
  connect,
  type DuetClient,
  type Message,
  type Status,
} from "../../src/client/index.js";
import { tokenFor } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { CheckedWebSocket, checkedFetch } from "../helpers/protocol-tap.js";

/**
 * A client for `user` (token signed with the test secret), with Node's `ws` as its WebSocket;
 * what the server sends it is checked against the documents (protocol-tap.ts).
 */
export async function clientFor(url: string, user: string, options: Partial<ConnectOptions> = {}) {
  const token = await tokenFor(user);
  return connect({
    url,
    token,
    WebSocket: CheckedWebSocket,
    fetch: checkedFetch,
    backoff: { initialMs: 100, maxMs: 1000 },
    pollIntervalMs: 200,
    ...options,
  });
}

/** Everything a client reports, kept for assertions. */
export interface Recorder {
  messages: Message[];
  seqs: number[];
  reads: { peer: string; reader: string; upTo: string }[];
  typing: string[];
  statuses: Status[];
  resets: { reason: string; seq: number }[];
}

export function record(client: DuetClient): Recorder {
  const r: Recorder = { messages: [], seqs: [], reads: [], typing: [], statuses: [], resets: [] };
  client.on("message", (e) => {
    r.messages.push(e.message);
    r.seqs.push(e.seq);
  });
  client.on("read", (e) => {
    r.reads.push({ peer: e.peer, reader: e.reader, upTo: e.upTo });
    r.seqs.push(e.seq);
  });
  client.on("typing", (e) => r.typing.push(e.from));
  client.on("status", (s) => r.statuses.push(s));
  client.on("reset", (e) => r.resets.push({ reason: e.reason, seq: e.seq }));
  return r;
}

/** Waits until `check()` is true, polling; fails with `what` after `timeoutMs` (generous on purpose). */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Resolves when the client is online on `transport` (or any, when not given). */
export async function onlineOn(client: DuetClient, transport?: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `online${transport ? ` on ${transport}` : ""} (now ${client.status.state}/${client.status.transport})`,
    () =>
      client.status.state === "online" && (transport === undefined || client.status.transport === transport),
    timeoutMs,
  );
}

/** Texts of messages from `from`, in arrival order. */
export function textsFrom(r: Recorder, from: string): (string | null)[] {
  return r.messages.filter((m) => m.from === from).map((m) => m.text);
}

export type ProxyRule = "forward" | "refuse" | "stall" | "drop-response";

export interface TestProxy {
  url: string;
  server: Server;
  /** Requests seen, by "METHOD path" (without query). */
  seen: string[];
  close(): Promise<void>;
}

/**
 * A local HTTP proxy in front of duet, standing in for the networks clients meet: it can refuse
 * WebSocket upgrades (403), refuse or stall chosen paths, or forward a request and lose its
 * answer (as when a connection drops right after the server committed).
 */
export async function startProxy(
  target: string,
  rules: { upgrade?: "forward" | "refuse"; request?: (method: string, path: string) => ProxyRule },
): Promise<TestProxy> {
  const to = new URL(target);
  const seen: string[] = [];
  const held = new Set<import("node:net").Socket>();
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    seen.push(`${req.method} ${path}`);
    const rule = rules.request?.(req.method ?? "GET", path) ?? "forward";
    if (rule === "refuse") {
      // Marked as the proxy's own: the protocol check skips it (it is not duet's answer).
      res.writeHead(403, { "content-type": "text/html", "x-test-proxy": "refused" });
      res.end("<h1>Forbidden by proxy</h1>");
      return;
    }
    if (rule === "stall") {
      held.add(req.socket);
      return; // never answer
    }
    const upstream = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (rule === "drop-response") {
          up.resume();
          up.on("end", () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        res.flushHeaders();
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on("upgrade", (req, socket, head) => {
    seen.push(`UPGRADE ${(req.url ?? "/").split("?")[0]}`);
    if ((rules.upgrade ?? "forward") === "refuse") {
      socket.end(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\n\r\nForbidden",
      );
      return;
    }
    const up = netConnect(Number(to.port), to.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    seen,
    async close() {
      for (const s of held) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
