/**
 * Held answers (SSE, NDJSON, a waiting long-poll) are written to the socket itself, taken from
 * node's HTTP server once the request is read (src/transports/held-socket.ts), so that node keeps
 * no request, response or parser per idle connection. Read here byte by byte over raw TCP: the
 * heads carry what node's would (CORS, Date, chunked framing for HTTP/1.1, none for HTTP/1.0),
 * a client that goes or half-closes is noticed, shutdown ends every held answer, and a long-poll's
 * connection goes back to node for its next requests (keep-alive, pipelining, the idle timeout).
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { waitUntil } from "../helpers/clients.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";

/** Generous: the assertions are about what happens, never how fast. */
const PATIENCE = 15_000;

interface Head {
  status: number;
  headers: Map<string, string>;
}

/** One raw HTTP/1.x connection, read as it arrives. */
class Raw {
  readonly socket: Socket;
  buffer = "";
  ended = false;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.buffer += d;
    });
    socket.on("end", () => {
      this.ended = true;
    });
    socket.on("close", () => {
      this.closed = true;
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new Raw(socket)));
      socket.once("error", reject);
    });
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** Reads one response head off the front of the buffer. */
  async head(what: string): Promise<Head> {
    await waitUntil(what, () => this.buffer.includes("\r\n\r\n"), PATIENCE);
    const end = this.buffer.indexOf("\r\n\r\n");
    const [statusLine = "", ...lines] = this.buffer.slice(0, end).split("\r\n");
    this.buffer = this.buffer.slice(end + 4);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      assert.ok(!headers.has(name), `${name} twice in ${what}`);
      headers.set(name, line.slice(colon + 1).trim());
    }
    return { status: Number(statusLine.split(" ")[1]), headers };
  }

  /** Reads a body of `length` bytes (content-length) off the front of the buffer. */
  async body(length: number, what: string): Promise<string> {
    await waitUntil(what, () => this.buffer.length >= length, PATIENCE);
    const body = this.buffer.slice(0, length);
    this.buffer = this.buffer.slice(length);
    return body;
  }

  /** Reads one chunk of a chunked body ("" for the last one). */
  async chunk(what: string): Promise<string> {
    const complete = () => {
      const line = this.buffer.indexOf("\r\n");
      if (line < 0) return false;
      const size = Number.parseInt(this.buffer.slice(0, line), 16);
      return this.buffer.length >= line + 2 + size + 2;
    };
    await waitUntil(what, complete, PATIENCE);
    const line = this.buffer.indexOf("\r\n");
    const size = Number.parseInt(this.buffer.slice(0, line), 16);
    const data = this.buffer.slice(line + 2, line + 2 + size);
    assert.equal(this.buffer.slice(line + 2 + size, line + 4 + size), "\r\n", `${what}: chunk framing`);
    this.buffer = this.buffer.slice(line + 4 + size);
    return data;
  }

  /** A chunked body's chunks until one holds `needle`. */
  async chunkWith(needle: string, what: string): Promise<string> {
    for (;;) {
      const data = await this.chunk(what);
      assert.notEqual(data, "", `${what}: the body ended first`);
      if (data.includes(needle)) return data;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function request(path: string, token: string, version = "1.1", extra = ""): string {
  return `GET ${path} HTTP/${version}\r\nHost: duet.test\r\nAuthorization: Bearer ${token}\r\n${extra}\r\n`;
}

/** What every held answer's head carries, whichever way it was written. */
function assertCommonHead(head: Head, contentType: string, what: string): void {
  assert.equal(head.status, 200, what);
  assert.equal(head.headers.get("access-control-allow-origin"), "*", what);
  assert.match(head.headers.get("access-control-allow-headers") ?? "", /authorization/, what);
  assert.match(head.headers.get("access-control-allow-methods") ?? "", /GET/, what);
  assert.equal(head.headers.get("access-control-max-age"), "600", what);
  assert.equal(head.headers.get("content-type"), contentType, what);
  assert.ok(!Number.isNaN(Date.parse(head.headers.get("date") ?? "")), `${what}: a Date header`);
  assert.equal(head.headers.get("content-encoding"), undefined, `${what}: never compressed`);
}

const open: Raw[] = [];
async function raw(server: TestServer): Promise<Raw> {
  const r = await Raw.open(server.port);
  open.push(r);
  return r;
}

async function send(server: TestServer, from: string, to: string, text: string): Promise<void> {
  const res = await api(server.url, await tokenFor(from), "POST", "/v1/messages", { to, text });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

describe("held answers on a socket of their own", () => {
  let server: TestServer;
  before(async () => {
    server = await startDuet({
      DUET_SEND_RATE: "10000",
      DUET_SEND_BURST: "10000",
      DUET_STREAM_PING_MS: "600000",
      DUET_MAX_POLL_SECONDS: "600",
    });
  });
  after(async () => {
    for (const r of open) r.close();
    await server.close();
  });

  test("SSE over HTTP/1.1: node's head, chunked events, the connection ends with the stream", async () => {
    const client = await raw(server);
    client.send(request("/v1/events", await tokenFor("hs-sse")));
    const head = await client.head("the SSE head");
    assertCommonHead(head, "text/event-stream; charset=utf-8", "SSE");
    assert.equal(head.headers.get("cache-control"), "no-cache, no-transform");
    assert.equal(head.headers.get("x-accel-buffering"), "no");
    assert.equal(head.headers.get("transfer-encoding"), "chunked");
    assert.equal(head.headers.get("connection"), "close", "written by duet, not node (node says keep-alive)");
    assert.match(await client.chunkWith('"type":"hello"', "hello"), /^data: \{"type":"hello"/);
    await send(server, "hs-writer", "hs-sse", "over a taken socket");
    assert.match(await client.chunkWith("over a taken socket", "the message"), /^id: \d+\ndata: /);
  });

  test("NDJSON over HTTP/1.0: no chunks, the body ends where the connection does", async () => {
    const client = await raw(server);
    client.send(request("/v1/stream", await tokenFor("hs-ndjson"), "1.0"));
    const head = await client.head("the NDJSON head");
    assertCommonHead(head, "application/x-ndjson; charset=utf-8", "NDJSON");
    assert.equal(head.headers.get("transfer-encoding"), undefined);
    assert.equal(head.headers.get("connection"), "close");
    await waitUntil("hello", () => client.buffer.includes('{"type":"hello"'), PATIENCE);
    await send(server, "hs-writer", "hs-ndjson", "plain bytes");
    await waitUntil("the message", () => client.buffer.includes("plain bytes"), PATIENCE);
    assert.ok(
      client.buffer.split("\n").every((l) => l === "" || l.startsWith("{")),
      "lines of JSON only",
    );
  });

  test("a client that goes, or half-closes, ends its stream on the server", async () => {
    const before = server.chat.hub.connectionCount;
    const gone = await raw(server);
    gone.send(request("/v1/events", await tokenFor("hs-gone")));
    const halfClosed = await raw(server);
    halfClosed.send(request("/v1/stream", await tokenFor("hs-half")));
    await gone.head("one head");
    await halfClosed.head("another head");
    await waitUntil("both streams attached", () => server.chat.hub.connectionCount === before + 2, PATIENCE);
    gone.close();
    halfClosed.socket.end();
    await waitUntil("both streams stopped", () => server.chat.hub.connectionCount === before, PATIENCE);
    await waitUntil("the half-closed connection closed by the server", () => halfClosed.closed, PATIENCE);
  });

  test("a long-poll that waited is answered with node's keep-alive, and its connection serves the next requests", async () => {
    const token = await tokenFor("hs-poll");
    const client = await raw(server);
    client.send(request("/v1/poll?timeout=0", token));
    const first = await client.head("a short poll (answered by node)");
    let since = JSON.parse(await client.body(Number(first.headers.get("content-length")), "its body")).seq;
    for (const round of [1, 2]) {
      client.send(request(`/v1/poll?since=${since}&timeout=300`, token));
      await waitUntil("the poll held", () => holdsPoll(server, "hs-poll"), PATIENCE);
      await send(server, "hs-writer", "hs-poll", `round ${round}`);
      const head = await client.head(`the answer of round ${round}`);
      assertCommonHead(head, "application/json; charset=utf-8", "poll");
      assert.equal(head.headers.get("cache-control"), "no-store");
      assert.equal(head.headers.get("connection"), "keep-alive");
      assert.equal(head.headers.get("keep-alive"), "timeout=65");
      const body = JSON.parse(await client.body(Number(head.headers.get("content-length")), "the answer"));
      assert.equal(body.events.length, 1);
      assert.equal(body.events[0].message.text, `round ${round}`);
      assert.equal(body.epoch, server.chat.epoch);
      since = body.seq;
    }
    // An ordinary request on the same connection, answered by node again.
    client.send("GET /healthz HTTP/1.1\r\nHost: duet.test\r\n\r\n");
    const health = await client.head("healthz on the reused connection");
    assert.equal(health.status, 200);
    assert.equal(await client.body(Number(health.headers.get("content-length")), "healthz"), '{"ok":true}');
    assert.ok(!client.closed);
  });

  test("a request sent while a long-poll waits is answered after it, in order", async () => {
    const token = await tokenFor("hs-pipe");
    const since = await pollSeq(server, token);
    const client = await raw(server);
    client.send(request(`/v1/poll?since=${since}&timeout=300`, token));
    await waitUntil("the poll held", () => holdsPoll(server, "hs-pipe"), PATIENCE);
    // HTTP/1.1 pipelining: the next request before the first answer.
    client.send("GET /healthz HTTP/1.1\r\nHost: duet.test\r\n\r\n");
    await send(server, "hs-writer", "hs-pipe", "first");
    const poll = await client.head("the poll's answer");
    const body = JSON.parse(await client.body(Number(poll.headers.get("content-length")), "the poll"));
    assert.equal(body.events[0].message.text, "first");
    const health = await client.head("then the pipelined request's");
    assert.equal(health.status, 200);
    assert.equal(await client.body(Number(health.headers.get("content-length")), "healthz"), '{"ok":true}');
  });

  test("a request in the same packet as a long-poll is node's to order: both are answered", async () => {
    const token = await tokenFor("hs-packet");
    const since = await pollSeq(server, token);
    const client = await raw(server);
    client.send(
      `${request(`/v1/poll?since=${since}&timeout=300`, token)}GET /healthz HTTP/1.1\r\nHost: duet.test\r\n\r\n`,
    );
    await waitUntil("the poll held", () => holdsPoll(server, "hs-packet"), PATIENCE);
    await send(server, "hs-writer", "hs-packet", "packet");
    const poll = await client.head("the poll's answer");
    const body = JSON.parse(await client.body(Number(poll.headers.get("content-length")), "the poll"));
    assert.equal(body.events[0].message.text, "packet");
    assert.equal((await client.head("the second answer")).status, 200);
  });

  test("a client that goes while its long-poll waits frees it", async () => {
    const token = await tokenFor("hs-poll-gone");
    const since = await pollSeq(server, token);
    const before = server.chat.hub.connectionCount;
    const client = await raw(server);
    client.send(request(`/v1/poll?since=${since}&timeout=300`, token));
    await waitUntil("the poll held", () => server.chat.hub.connectionCount === before + 1, PATIENCE);
    client.close();
    await waitUntil("the poll stopped", () => server.chat.hub.connectionCount === before, PATIENCE);
  });
});

describe("a connection handed back after a long-poll", () => {
  let server: TestServer;
  before(async () => {
    server = await startDuet({ DUET_SEND_RATE: "10000", DUET_SEND_BURST: "10000" });
    // Node closes a keep-alive connection idle this long (plus its margin of 1 s).
    server.http.keepAliveTimeout = 300;
  });
  after(async () => {
    for (const r of open) r.close();
    await server.close();
  });

  test("is closed once idle past the keep-alive timeout, but not while a request arrives slowly", async () => {
    const token = await tokenFor("hk-poll");
    const since = await pollSeq(server, token);
    const idle = await raw(server);
    const slow = await raw(server);
    for (const client of [idle, slow]) client.send(request(`/v1/poll?since=${since}&timeout=300`, token));
    await waitUntil("both polls held", () => server.chat.hub.connectionCount === 2, PATIENCE);
    await send(server, "hk-writer", "hk-poll", "wake");
    for (const client of [idle, slow]) {
      const head = await client.head("an answer");
      assert.equal(head.headers.get("keep-alive"), "timeout=0");
      await client.body(Number(head.headers.get("content-length")), "its body");
    }
    // The slow one starts a send at once and takes longer than the idle timeout to finish it.
    const message = JSON.stringify({ to: "hk-writer", text: "slowly" });
    slow.send(
      `POST /v1/messages HTTP/1.1\r\nHost: duet.test\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${message.length}\r\n\r\n`,
    );
    await waitUntil("the idle connection closed by the server", () => idle.closed, PATIENCE);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.ok(!slow.closed, "a request under way is not cut by the idle timeout");
    slow.send(message);
    assert.equal((await slow.head("the slow send's answer")).status, 201);
  });
});

describe("shutdown", () => {
  test("ends held streams with their last chunk and answers held long-polls", async () => {
    const server = await startDuet({ DUET_STREAM_PING_MS: "600000", DUET_MAX_POLL_SECONDS: "600" });
    const token = await tokenFor("sd-user");
    const since = await pollSeq(server, token);
    const sse = await Raw.open(server.port);
    sse.send(request("/v1/events", token));
    const poll = await Raw.open(server.port);
    poll.send(request(`/v1/poll?since=${since}&timeout=300`, token));
    await sse.head("the SSE head");
    await sse.chunkWith('"type":"hello"', "hello");
    await waitUntil("both held", () => server.chat.hub.connectionCount === 2, PATIENCE);
    const closing = server.close();
    assert.equal(await sse.chunk("the last chunk"), "", "the chunked body is complete");
    const head = await poll.head("the poll's answer at shutdown");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("connection"), "close");
    const body = JSON.parse(await poll.body(Number(head.headers.get("content-length")), "its body"));
    assert.deepEqual(body.events, []);
    await waitUntil("both connections closed", () => sse.closed && poll.closed, PATIENCE);
    await closing;
  });
});

/** Whether a long-poll of `user` is held. */
function holdsPoll(server: TestServer, user: string): boolean {
  return server.chat.hub.all().some((l) => l.user === user && l.sink.kind === "poll");
}

/** The user's current seq, from a short poll. */
async function pollSeq(server: TestServer, token: string): Promise<number> {
  const res = await fetch(`${server.url}/v1/poll?timeout=0`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await res.json()) as { seq: number };
  return body.seq;
}
