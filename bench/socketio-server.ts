/**
 * The minimal Socket.IO 4.8 relay duet is compared with: WebSocket transport only, each socket
 * joins a room named after its user, and a `send` is emitted to the peer's room. It stores
 * nothing and resumes nothing. Users authenticate with the same HS256 tokens as duet's, checked
 * once per connection. With WORKERS > 1 and REDIS_URL it runs that many processes on one port
 * with the Redis adapter (@socket.io/redis-adapter), as a scaled-out Socket.IO deployment would;
 * with a `redis-cluster://h1:p1,h2:p2` URL, with the adapter's sharded variant on that cluster.
 * With RECOVERY=1 (the reconnect storm's `--compare socketio`, test/network/storm.ts) it enables
 * connection state recovery with its defaults (2 minutes, middlewares skipped on recovery).
 *
 * Environment: PORT, BENCH_SECRET, WORKERS (default 1), REDIS_URL, RECOVERY.
 */
import cluster from "node:cluster";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 3000);
const secret = process.env.BENCH_SECRET ?? "";
const workers = Number(process.env.WORKERS ?? 1);
const redisUrl = process.env.REDIS_URL;
const recovery = process.env.RECOVERY === "1";

/** The user of a valid HS256 token, or null. */
function verify(token: unknown): string | null {
  if (typeof token !== "string") return null;
  const [header, payload, signature] = token.split(".");
  if (!header || !payload || !signature) return null;
  const expected = createHmac("sha256", secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { sub?: unknown; exp?: unknown };
  if (typeof claims.sub !== "string" || typeof claims.exp !== "number") return null;
  return claims.exp * 1000 > Date.now() ? claims.sub : null;
}

async function serve(): Promise<void> {
  const http = createServer((req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  const io = new Server(http, {
    transports: ["websocket"],
    serveClient: false,
    perMessageDeflate: false,
    ...(recovery ? { connectionStateRecovery: {} } : {}),
  });
  /** Resolves once messages to `user`'s room reach this process (the sharded adapter's subscription). */
  let subscribed = (_user: string): Promise<unknown> => Promise.resolve();
  if (redisUrl?.startsWith("redis-cluster://")) {
    // A Redis Cluster: the sharded adapter (SPUBLISH/SSUBSCRIBE, Redis 7), a channel per room in
    // its default "dynamic" mode, so a message goes only to the processes that hold its room,
    // which is how a user of Socket.IO would scale out on a cluster.
    const [{ createShardedAdapter }, { Cluster }] = await Promise.all([
      import("@socket.io/redis-adapter"),
      import("ioredis"),
    ]);
    const nodes = redisUrl
      .slice("redis-cluster://".length)
      .replace(/\/$/, "")
      .split(",")
      .map((hostPort) => {
        const colon = hostPort.lastIndexOf(":");
        return { host: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)) };
      });
    const pub = new Cluster(nodes);
    const sub = new Cluster(nodes, { shardedSubscribers: true });
    io.adapter(createShardedAdapter(pub, sub));
    // The adapter subscribes to a room's channel when the room is created and does not wait for
    // Redis to confirm it: a message sent meanwhile is lost. The connection is acknowledged only
    // once the same channel (its name as the adapter builds it) is subscribed, so the bench does
    // not count a loss that only its fast start would cause. One SSUBSCRIBE per connection.
    subscribed = (user) => sub.ssubscribe(`socket.io#/#${user}#`);
  } else if (redisUrl) {
    const [{ createAdapter }, { Redis }] = await Promise.all([
      import("@socket.io/redis-adapter"),
      import("ioredis"),
    ]);
    const pub = new Redis(redisUrl);
    io.adapter(createAdapter(pub, pub.duplicate()));
  }
  io.use((socket, next) => {
    const user = verify((socket.handshake.auth as { token?: unknown }).token);
    if (user === null) next(new Error("unauthorized"));
    else {
      socket.data.user = user;
      subscribed(user).then(
        () => next(),
        (err: Error) => next(err),
      );
    }
  });
  io.on("connection", (socket) => {
    const user = socket.data.user as string;
    // A recovered socket has its rooms (and data) back from the session.
    if (!socket.recovered) socket.join(user);
    socket.on("send", (payload: { to?: unknown; text?: unknown }) => {
      if (typeof payload?.to !== "string" || typeof payload.text !== "string") return;
      io.to(payload.to).emit("message", { from: user, text: payload.text });
    });
  });
  http.listen(port, "127.0.0.1", () => {
    process.stdout.write(`${JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${port}` })}\n`);
  });
  const stop = () => {
    io.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (workers > 1 && cluster.isPrimary) {
  if (!redisUrl) throw new Error("WORKERS > 1 needs REDIS_URL");
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  void serve();
}
