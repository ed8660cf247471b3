/** The chaos proxy itself, against plain TCP servers on loopback. */

import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { ChaosProxy } from "../helpers/chaos-proxy.js";
import { sleep } from "../helpers/kit.js";

/** Waits until `check` holds, polling; fails after `ms`. */
async function until(check: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A TCP server that records each accepted socket and everything it receives. */
class Recorder {
  readonly server: Server;
  readonly sockets: Socket[] = [];
  readonly received: Buffer[] = [];
  readonly events: string[] = [];
  port = 0;

  constructor(echo = false) {
    this.server = createServer({ allowHalfOpen: false }, (socket) => {
      this.sockets.push(socket);
      socket.on("data", (d: Buffer) => {
        this.received.push(d);
        if (echo) socket.write(d);
      });
      socket.on("end", () => this.events.push("end"));
      socket.on("error", (err: NodeJS.ErrnoException) => this.events.push(`error:${err.code}`));
      socket.on("close", () => this.events.push("close"));
    });
  }

  async listen(): Promise<this> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  text(): string {
    return Buffer.concat(this.received).toString();
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

interface Client {
  socket: Socket;
  data: Buffer[];
  events: string[];
  text(): string;
}

async function dial(port: number): Promise<Client> {
  const socket = connect(port, "127.0.0.1");
  const client: Client = {
    socket,
    data: [],
    events: [],
    text: () => Buffer.concat(client.data).toString(),
  };
  socket.on("data", (d: Buffer) => client.data.push(d));
  socket.on("end", () => client.events.push("end"));
  socket.on("error", (err: NodeJS.ErrnoException) => client.events.push(`error:${err.code}`));
  socket.on("close", () => client.events.push("close"));
  await once(socket, "connect");
  return client;
}

describe("chaos proxy", () => {
  let echo: Recorder;
  let sink: Recorder;
  const proxies: ChaosProxy[] = [];
  const proxyTo = async (port: number, options = {}) => {
    const proxy = await ChaosProxy.start({ target: { port }, ...options });
    proxies.push(proxy);
    return proxy;
  };

  before(async () => {
    echo = await new Recorder(true).listen();
    sink = await new Recorder(false).listen();
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await echo.close();
    await sink.close();
  });

  test("relays both ways and passes a clean end on", async () => {
    const proxy = await proxyTo(echo.port);
    const client = await dial(proxy.port);
    client.socket.write("hello ");
    client.socket.write("world");
    await until(() => client.text() === "hello world", 10_000, "echo");
    const serverSide = echo.sockets.at(-1)!;
    const serverEvents = echo.events.length;
    client.socket.end();
    await until(() => client.events.includes("close"), 10_000, "client close");
    await until(() => echo.events.slice(serverEvents).includes("end"), 10_000, "server end");
    assert.ok(serverSide.destroyed || serverSide.readableEnded);
    await until(() => proxy.links.size === 0, 10_000, "link released");
  });

  test("added latency delays each direction and keeps order", async () => {
    const proxy = await proxyTo(echo.port, { latencyMs: 150 });
    const client = await dial(proxy.port);
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) client.socket.write(`${i},`);
    const want = Array.from({ length: 20 }, (_, i) => `${i},`).join("");
    await until(() => client.text() === want, 10_000, "echoed sequence");
    // Out and back: at least two delays (a lower bound only: a busy machine only adds to it).
    assert.ok(Date.now() - t0 >= 2 * 150 - 5, `round trip took ${Date.now() - t0} ms`);
    client.socket.destroy();
  });

  test("the bandwidth cap spreads a burst out", async () => {
    const proxy = await proxyTo(sink.port, { bytesPerSecond: 20_000 });
    const client = await dial(proxy.port);
    const before = Buffer.concat(sink.received).length;
    const t0 = Date.now();
    client.socket.write(Buffer.alloc(40_000, 120));
    await until(() => Buffer.concat(sink.received).length - before === 40_000, 20_000, "40 kB through");
    // 40 kB at 20 kB/s cannot take less than ~2 s (the first 50 ms slice leaves at once).
    assert.ok(Date.now() - t0 >= 1_900, `40 kB took ${Date.now() - t0} ms`);
    assert.deepEqual(proxy.links.values().next().value?.bytes.up, 40_000);
    client.socket.destroy();
  });

  test("random resets send RST to both sides", async () => {
    const proxy = await proxyTo(echo.port, { resetChance: 1 });
    const serverBefore = echo.sockets.length;
    const client = await dial(proxy.port);
    client.socket.write("x");
    await until(() => client.events.includes("close"), 10_000, "client closed");
    assert.ok(client.events.includes("error:ECONNRESET"), `client saw ${client.events.join(",")}`);
    await until(() => echo.sockets.length > serverBefore, 10_000, "server accepted");
    const server = echo.sockets.at(-1)!;
    await until(() => server.destroyed, 10_000, "server side closed");
    assert.equal(client.text(), "");
  });

  test("a black hole stops bytes both ways and tells neither side", async () => {
    const proxy = await proxyTo(sink.port);
    const serverBefore = sink.sockets.length;
    const client = await dial(proxy.port);
    client.socket.write("before");
    await until(() => sink.sockets.length > serverBefore && sink.text().endsWith("before"), 10_000, "relay");
    const server = sink.sockets.at(-1)!;
    const serverData: string[] = [];
    const serverEvents: string[] = [];
    server.on("data", (d: Buffer) => serverData.push(d.toString()));
    server.on("end", () => serverEvents.push("end"));
    server.on("close", () => serverEvents.push("close"));
    const [link] = [...proxy.links];
    link!.blackhole();

    client.socket.write("lost on the way up");
    server.write("lost on the way down");
    server.end(); // even the server's FIN must not reach the client
    // A control link through the same proxy shows the proxy is still relaying meanwhile.
    const control = await dial(proxy.port);
    control.socket.write("control");
    await until(() => sink.text().endsWith("control"), 10_000, "control relayed");
    await sleep(300);
    assert.deepEqual(serverData, []);
    assert.deepEqual(serverEvents, []);
    assert.equal(client.text(), "");
    assert.deepEqual(client.events, []);
    assert.equal(link!.state, "blackholed");

    // The sender's buffers fill, as behind a dead radio link: writes start to queue in the process.
    const chunk = Buffer.alloc(64 * 1024, 97);
    let written = 0;
    while (client.socket.writableLength === 0 && written < 256 * 1024 * 1024) {
      client.socket.write(chunk);
      written += chunk.length;
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(client.socket.writableLength > 0, "the black-holed sender never saw backpressure");
    link!.reset();
    await until(() => client.events.includes("close"), 10_000, "reset ends it");
    control.socket.destroy();
  });

  test("pause holds bytes and resume delivers them in order", async () => {
    const proxy = await proxyTo(echo.port);
    const client = await dial(proxy.port);
    client.socket.write("a");
    await until(() => client.text() === "a", 10_000, "first echo");
    const [link] = [...proxy.links];
    link!.pause();
    client.socket.write("b");
    client.socket.write("c");
    await sleep(200);
    assert.equal(client.text(), "a");
    link!.resume();
    await until(() => client.text() === "abc", 10_000, "held bytes delivered");
    client.socket.destroy();
  });

  test("an outage resets open links and refuses, then admits, new ones", async () => {
    const proxy = await proxyTo(echo.port);
    const a = await dial(proxy.port);
    const b = await dial(proxy.port);
    a.socket.write("1");
    b.socket.write("2");
    await until(() => a.text() === "1" && b.text() === "2", 10_000, "echoes");
    proxy.down(60_000);
    await until(() => a.events.includes("close") && b.events.includes("close"), 10_000, "cut");
    assert.ok(a.events.includes("error:ECONNRESET"));
    assert.ok(proxy.isDown);
    const refused = connect(proxy.port, "127.0.0.1");
    const refusedEvents: string[] = [];
    refused.on("error", (err: NodeJS.ErrnoException) => refusedEvents.push(`error:${err.code}`));
    refused.on("close", () => refusedEvents.push("close"));
    await until(() => refusedEvents.includes("close"), 10_000, "refused");
    assert.ok(refusedEvents.includes("error:ECONNRESET"), refusedEvents.join(","));
    proxy.up();
    const c = await dial(proxy.port);
    c.socket.write("3");
    await until(() => c.text() === "3", 10_000, "after the outage");
    c.socket.destroy();
  });

  test("an outage in hold mode connects held attempts when it ends", async () => {
    const proxy = await proxyTo(echo.port);
    proxy.down(60_000, "hold");
    const held = await dial(proxy.port); // the TCP handshake is the kernel's; the proxy holds the rest
    held.socket.write("late");
    await sleep(200);
    assert.equal(held.text(), "");
    assert.equal(proxy.links.size, 0);
    proxy.up();
    await until(() => held.text() === "late", 10_000, "held attempt relayed");
    held.socket.destroy();
  });

  test("cutAll resets every link at once", async () => {
    const proxy = await proxyTo(echo.port);
    const clients = await Promise.all(Array.from({ length: 20 }, () => dial(proxy.port)));
    await until(() => proxy.links.size === 20, 10_000, "20 links");
    proxy.cutAll();
    await until(() => clients.every((c) => c.events.includes("close")), 10_000, "all cut");
    assert.equal(proxy.links.size, 0);
    assert.ok(clients.every((c) => c.events.includes("error:ECONNRESET")));
  });
});
