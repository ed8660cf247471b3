/**
 * A small HTTP/1.1 client for the load generator's request-per-message traffic (POST
 * /v1/messages, GET /v1/poll): keep-alive connections over `net`, one request at a time on each
 * (no pipelining), requests written as one string and answers parsed from the bytes. Node's
 * `http` client costs the generator ~100 µs per request (a ClientRequest, header validation, the
 * agent's socket bookkeeping, per-request listeners); at 5,000 messages/s over long-polling (a
 * POST and a poll per message) that was a whole core, and the bench measured itself instead of
 * duet. The server sees the same requests either way.
 */
import net from "node:net";
import { at } from "../test/helpers/kit.js";

export interface HttpAnswer {
  status: number;
  body: string;
}

export type HttpDone = (err: Error | null, answer: HttpAnswer | null) => void;

interface Pending {
  /** The whole request: request line, headers, blank line and body. */
  wire: string;
  done: HttpDone;
}

const CRLFCRLF = Buffer.from("\r\n\r\n");
/** A keep-alive connection idle this long is replaced rather than reused (the server may be closing it). */
const MAX_IDLE_MS = 30_000;

/** The request text for `method path` with `headers` (already `name: value\r\n` lines) and `body`. */
export function requestText(method: string, path: string, host: string, headers: string, body = ""): string {
  const length = body === "" && method === "GET" ? "" : `content-length: ${Buffer.byteLength(body)}\r\n`;
  return `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${headers}${length}\r\n${body}`;
}

/**
 * One keep-alive connection: requests are queued and written one after the other, each when the
 * previous answer is complete. Opened on first use and again after the server closes it.
 */
export class HttpConnection {
  private readonly port: number;
  private readonly hostname: string;
  private socket: net.Socket | null = null;
  private readonly queue: Pending[] = [];
  private current: Pending | null = null;
  private lastUsed = 0;
  /** Called when the connection is free for another request (the pool's hook). */
  onIdle: ((conn: HttpConnection) => void) | null = null;

  // The answer being read.
  private buffer: Buffer = Buffer.alloc(0);
  private status = 0;
  /** -1 while reading the head; then the body's length, or -2 for chunked, -3 for until-close. */
  private bodyLength = -1;
  private closeAfter = false;
  private chunks: Buffer[] = [];

  constructor(hostname: string, port: number) {
    this.hostname = hostname;
    this.port = port;
  }

  /** True when nothing is being sent or awaited. */
  get idle(): boolean {
    return this.current === null && this.queue.length === 0;
  }

  request(wire: string, done: HttpDone): void {
    this.queue.push({ wire, done });
    if (this.current === null) this.next();
  }

  /** Opens the socket ahead of the first request; resolves once connected. */
  connect(): Promise<void> {
    if (this.socket === null) this.open();
    const socket = this.socket!;
    if (!socket.connecting) return Promise.resolve();
    return new Promise((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("close", () => reject(new Error("connection closed before it was open")));
    });
  }

  /** Closes the connection; the request in flight and those queued fail with `reason`. */
  destroy(reason = "closed by the client"): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    this.failAll(new Error(reason));
  }

  private next(): void {
    const pending = this.queue.shift();
    if (!pending) {
      this.onIdle?.(this);
      return;
    }
    this.current = pending;
    if (this.socket !== null && performance.now() - this.lastUsed > MAX_IDLE_MS) {
      this.socket.destroy();
      this.socket = null;
    }
    if (this.socket === null) this.open();
    this.resetAnswer();
    this.socket?.write(pending.wire);
  }

  private open(): void {
    const socket = net.connect({ host: this.hostname, port: this.port, noDelay: true });
    this.socket = socket;
    socket.on("data", (data: Buffer) => {
      if (this.socket === socket) this.read(data);
    });
    socket.on("error", () => {
      // "close" follows and reports it.
    });
    socket.on("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.current !== null && this.bodyLength === -3) {
        this.finish(Buffer.concat(this.chunks));
        return;
      }
      this.failAll(new Error("connection closed before the answer"));
    });
  }

  private failAll(err: Error): void {
    const failed = this.current === null ? this.queue.splice(0) : [this.current, ...this.queue.splice(0)];
    this.current = null;
    for (const pending of failed) pending.done(err, null);
    // A connection that was busy is free again (an idle one that closed is already in its pool).
    if (failed.length > 0 && this.current === null) this.onIdle?.(this);
  }

  private resetAnswer(): void {
    this.buffer = Buffer.alloc(0);
    this.status = 0;
    this.bodyLength = -1;
    this.closeAfter = false;
    this.chunks = [];
  }

  private read(data: Buffer): void {
    if (this.current === null) {
      // Nothing was asked: the server spoke out of turn. Start afresh on the next request.
      this.socket?.destroy();
      this.socket = null;
      return;
    }
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    if (this.bodyLength === -1) {
      const end = this.buffer.indexOf(CRLFCRLF);
      if (end === -1) return;
      this.parseHead(this.buffer.toString("latin1", 0, end));
      this.buffer = this.buffer.subarray(end + 4);
    }
    if (this.bodyLength >= 0) {
      if (this.buffer.length < this.bodyLength) return;
      const body = this.buffer.subarray(0, this.bodyLength);
      this.buffer = this.buffer.subarray(this.bodyLength);
      this.finish(body);
    } else if (this.bodyLength === -2) {
      this.readChunks();
    } else {
      this.chunks.push(this.buffer);
      this.buffer = Buffer.alloc(0);
    }
  }

  private parseHead(head: string): void {
    const lines = head.split("\r\n");
    this.status = Number(at(lines, 0).slice(9, 12));
    let length = -3;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line
        .slice(colon + 1)
        .trim()
        .toLowerCase();
      if (name === "content-length") length = Number(value);
      else if (name === "transfer-encoding" && value.includes("chunked")) length = -2;
      else if (name === "connection" && value === "close") this.closeAfter = true;
    }
    if (length === -3) this.closeAfter = true;
    this.bodyLength = length;
  }

  /** Chunked transfer coding: `<hex size>\r\n<bytes>\r\n`…, ended by a zero-size chunk and a blank line. */
  private readChunks(): void {
    for (;;) {
      const eol = this.buffer.indexOf("\r\n");
      if (eol === -1) return;
      const size = Number.parseInt(this.buffer.toString("latin1", 0, eol), 16);
      if (size === 0) {
        const end = this.buffer.indexOf(CRLFCRLF, eol);
        if (end === -1) return;
        this.buffer = this.buffer.subarray(end + 4);
        this.finish(Buffer.concat(this.chunks));
        return;
      }
      if (this.buffer.length < eol + 2 + size + 2) return;
      this.chunks.push(this.buffer.subarray(eol + 2, eol + 2 + size));
      this.buffer = this.buffer.subarray(eol + 2 + size + 2);
    }
  }

  private finish(body: Buffer): void {
    const pending = this.current;
    this.current = null;
    this.lastUsed = performance.now();
    if (this.closeAfter || this.buffer.length > 0) {
      // The server closes, or sent bytes nobody asked for: this connection is not reused.
      this.socket?.destroy();
      this.socket = null;
    }
    pending?.done(null, { status: this.status, body: body.toString("utf8") });
    if (this.current === null) this.next();
  }
}

/**
 * Up to `size` keep-alive connections shared by many senders: a request goes on an idle
 * connection (the most recently used, so few stay warm), or waits in a FIFO queue for one.
 */
export class HttpPool {
  private readonly hostname: string;
  private readonly port: number;
  private readonly size: number;
  private readonly all: HttpConnection[] = [];
  private readonly idle: HttpConnection[] = [];
  private readonly waiting: Pending[] = [];

  constructor(url: string, size: number) {
    const parsed = new URL(url);
    this.hostname = parsed.hostname;
    this.port = Number(parsed.port || 80);
    this.size = size;
  }

  /** A dedicated connection of the same server (a long-poller's), outside the pool. */
  connection(): HttpConnection {
    return new HttpConnection(this.hostname, this.port);
  }

  request(wire: string, done: HttpDone): void {
    let conn = this.idle.pop();
    if (!conn && this.all.length < this.size) conn = this.add();
    if (conn) conn.request(wire, done);
    else this.waiting.push({ wire, done });
  }

  /**
   * Opens every connection of the pool now, `concurrency` at a time, so the traffic does not
   * start by opening them (a burst of connects while the first sends wait behind them).
   */
  async warm(concurrency = 64): Promise<void> {
    const opening: Promise<void>[] = [];
    const fresh: HttpConnection[] = [];
    while (this.all.length < this.size) fresh.push(this.add());
    let next = 0;
    const worker = async () => {
      for (let conn = fresh[next++]; conn !== undefined; conn = fresh[next++]) await conn.connect();
    };
    for (let i = 0; i < Math.min(concurrency, fresh.length); i++) opening.push(worker());
    await Promise.all(opening);
    this.idle.push(...fresh);
  }

  private add(): HttpConnection {
    const conn = new HttpConnection(this.hostname, this.port);
    conn.onIdle = (free) => this.release(free);
    this.all.push(conn);
    return conn;
  }

  private release(conn: HttpConnection): void {
    const pending = this.waiting.shift();
    if (pending) conn.request(pending.wire, pending.done);
    else this.idle.push(conn);
  }

  destroy(): void {
    this.waiting.splice(0);
    for (const conn of this.all) conn.destroy();
    this.all.length = 0;
    this.idle.length = 0;
  }
}
