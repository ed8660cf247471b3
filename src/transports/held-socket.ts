import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { Socket } from "node:net";

/**
 * Held answers (SSE, NDJSON, a waiting long-poll) on a socket of their own.
 *
 * While node's HTTP server owns a connection it keeps, for as long as the response lives, the
 * request (`IncomingMessage`, its headers and raw headers), the `ServerResponse`, an HTTP parser
 * (a native object of ~1.6 KB that the pool of 1,000 cannot share with 10,000 held answers), the
 * connection's state and the bound listeners over it: ~5 KB of heap and native memory per held
 * answer that does nothing but wait. Once the request has been read and is the only one on its
 * connection, `takeSocket` does what node itself does for an upgrade (`onParserExecuteCommon` in
 * node's `_http_server.js`): it takes node's listeners off the socket and gives the parser back
 * to the pool. The answer's head and body are then written to the socket directly.
 *
 * Node's listeners are recognised by name, and the socket is taken only when every one of them
 * is where node 20 puts it; otherwise (another node, a pipelined request, a body still arriving)
 * `takeSocket` answers null and the caller keeps answering through the ServerResponse.
 * test/transports/held-socket.test.ts checks that it is taken on this node.
 */

interface NodeParser {
  incoming: unknown;
}

/** The fields node's HTTP server gives the sockets it owns (`_http_server.js`). */
interface ServerSocket extends Socket {
  parser?: NodeParser | null;
  _httpMessage?: unknown;
  server?: Server;
}

const nodeHttp = createRequire(import.meta.url)("_http_common") as {
  freeParser(parser: NodeParser, req: IncomingMessage | null, socket: Socket): void;
};

/** Each event node's server listens to on a connection, and the name of its listener there. */
const NODE_LISTENERS: readonly (readonly [string, string])[] = [
  ["data", "bound socketOnData"],
  ["end", "bound socketOnEnd"],
  ["close", "bound socketOnClose"],
  ["drain", "bound socketOnDrain"],
  ["error", "socketOnError"],
  ["timeout", "socketOnTimeout"],
  ["resume", "onSocketResume"],
  ["pause", "onSocketPause"],
];

/**
 * Takes `res`'s socket from node's HTTP server, before anything of the answer is written; null
 * when it cannot be taken (then nothing has changed). From here the caller writes the whole
 * answer to the socket, and must listen for its `error` (see `destroySocket`) and `end`.
 */
export function takeSocket(res: ServerResponse): Socket | null {
  const req = res.req;
  const socket = res.socket as ServerSocket | null;
  const parser = socket?.parser;
  if (!socket || !parser || res.headersSent || socket._httpMessage !== res) return null;
  // The request read whole, and none after it: a pipelined request would be node's to answer.
  if (!req.complete || parser.incoming !== req || socket.readableLength > 0) return null;
  const found: [string, (...args: unknown[]) => void][] = [];
  for (const [event, name] of NODE_LISTENERS) {
    const listener = socket.listeners(event).find((l) => l.name === name);
    if (listener === undefined) return null;
    found.push([event, listener as (...args: unknown[]) => void]);
  }
  for (const [event, listener] of found) socket.removeListener(event, listener);
  res.detachSocket(socket);
  // Unconsumes the socket (its reads come to JavaScript again) and returns the parser to the pool.
  nodeHttp.freeParser(parser, req, socket);
  socket.setTimeout(0);
  return socket;
}

/** A held socket's `error` listener: shared, so that no closure lives as long as the socket. */
export function destroySocket(this: Socket): void {
  this.destroy();
}

/**
 * A held socket's `data` listener: nothing is expected from the client once its request is read
 * (an HTTP client does not send another on a connection whose answer has not come), and what
 * comes is dropped; reading on is how the client's FIN (`end`) or a reset (`close`) is noticed.
 */
export function ignoreData(): void {}

/**
 * A waiting long-poll's `data` listener: bytes that come before the answer are a request sent
 * ahead (HTTP/1.1 pipelining). They are put back and reading stops; once the answer is written
 * the socket goes back to node's server (`handBack`), whose parser reads them then.
 */
export function holdData(this: Socket, chunk: Buffer): void {
  this.pause();
  this.unshift(chunk);
}

/** The HTTP server a taken socket came from. */
export function serverOf(socket: Socket): Server | undefined {
  return (socket as ServerSocket).server;
}

/** Node's own margin past the keep-alive timeout it announces (`_http_server.js`). */
const KEEP_ALIVE_MARGIN_MS = 1_000;

/**
 * Gives a taken socket back to node's HTTP server for the connection's next request, the way an
 * HTTP server is given a connection it did not accept (`server.emit("connection")`, documented).
 * The caller has written the whole answer and removed its listeners. Node would now close the
 * connection if no request came within its keep-alive timeout; so does this (node's margin
 * included), and the timeout is lifted when the next request's first bytes arrive, as node does.
 */
export function handBack(socket: Socket, server: Server): void {
  server.emit("connection", socket);
  if (server.keepAliveTimeout > 0) {
    socket.setTimeout(server.keepAliveTimeout + KEEP_ALIVE_MARGIN_MS);
    socket.prependOnceListener("data", noTimeout);
  }
  // Bytes that came early (holdData) are read now, by the new parser.
  socket.resume();
}

function noTimeout(this: Socket): void {
  this.setTimeout(0);
}

/** HTTP header lines (`name: value\r\n` each) from writeHead's flat array form. */
export function headerLines(headers: readonly string[]): string {
  let lines = "";
  for (let i = 0; i + 1 < headers.length; i += 2) lines += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return lines;
}

let dateSecond = -1;
let dateValue = "";

/** The `Date` header's value, made once a second (as node does). */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}
