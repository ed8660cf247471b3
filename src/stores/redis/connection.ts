import { Cluster, type ClusterNode, Redis, type RedisOptions } from "ioredis";
import { DuetError } from "../../core/errors.js";

export type RedisClient = Redis | Cluster;

export interface RedisEndpoint {
  cluster: boolean;
  /** The URL as ioredis takes it (standalone). */
  url: string;
  /** Seed nodes (cluster). */
  nodes: ClusterNode[];
  username?: string;
  password?: string;
}

/**
 * `redis://[user:pass@]host:port[/db]` (or `rediss://`) is one server;
 * `redis-cluster://[user:pass@]h1:p1,h2:p2` is a Redis Cluster, given by any of its nodes.
 */
export function parseRedisUrl(url: string): RedisEndpoint {
  if (/^rediss?:\/\//.test(url)) return { cluster: false, url, nodes: [] };
  const match = /^redis-cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)\/?$/.exec(url);
  const hostList = match?.[3];
  if (!match || hostList === undefined)
    throw new Error(`Not a Redis URL: ${url} (redis://host:port or redis-cluster://h1:p1,h2:p2).`);
  const nodes = hostList.split(",").map((hostPort) => {
    const at = hostPort.lastIndexOf(":");
    const host = at > 0 ? hostPort.slice(0, at) : hostPort;
    const port = at > 0 ? Number(hostPort.slice(at + 1)) : 6379;
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`Bad cluster node "${hostPort}".`);
    return { host, port };
  });
  const endpoint: RedisEndpoint = { cluster: true, url, nodes };
  if (match[1]) endpoint.username = decodeURIComponent(match[1]);
  if (match[2]) endpoint.password = decodeURIComponent(match[2]);
  return endpoint;
}

export interface ConnectOptions {
  /** Shown in CLIENT LIST. */
  name: string;
  /** A command without a reply after this long fails (ms); none when absent (the caller keeps its own deadline). */
  commandTimeoutMs?: number;
  /**
   * false (commands): a command while Redis is unreachable fails at once instead of waiting.
   * true (subscriber): SSUBSCRIBE/SUNSUBSCRIBE wait for the reconnection and then run, in order.
   */
  queueWhileOffline: boolean;
  /** Sharded pub/sub on a cluster (one subscriber connection per master). */
  shardedSubscribers?: boolean;
  /**
   * Standalone: ioredis' auto-pipelining (default true). Pass false and batch with `tickBatcher`
   * on a busy connection: ioredis sends an auto-pipeline only once the previous one is answered
   * in full, and resolves its commands together, so under load every command waits for the
   * slowest of a batch and Redis idles while the batch's replies are handled.
   */
  autoPipelining?: boolean;
}

/** How often a cluster client re-reads the slot map (ms). */
const SLOTS_REFRESH_MS = 2000;

/** Reconnects quickly and forever: an outage must heal without restarting duet. */
const reconnectDelay = (attempt: number) => Math.min(50 * 2 ** attempt, 1000);

export function createClient(url: string, options: ConnectOptions): RedisClient {
  const endpoint = parseRedisUrl(url);
  const common: RedisOptions = {
    connectionName: options.name,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: Math.max(options.commandTimeoutMs ?? 0, 2000),
    // A command that may have run must not run twice after a reconnect (a send without
    // clientMsgId would be stored twice): fail it, and let the caller decide.
    autoResendUnfulfilledCommands: options.queueWhileOffline,
    maxRetriesPerRequest: options.queueWhileOffline ? null : 0,
    lazyConnect: true,
  };
  let client: RedisClient;
  if (endpoint.cluster) {
    const cluster = new Cluster(endpoint.nodes, {
      enableOfflineQueue: options.queueWhileOffline,
      enableAutoPipelining: true,
      clusterRetryStrategy: reconnectDelay,
      shardedSubscribers: options.shardedSubscribers ?? false,
      lazyConnect: true,
      redisOptions: { ...common, username: endpoint.username, password: endpoint.password },
    });
    // ioredis learns a new topology from MOVED replies and from periodic refreshes, but (despite
    // its typings' "default 5000") refreshes only when asked to. A client that only publishes
    // was seen to keep a failed master's route for good after a failover, dropping every
    // publication for its slots: with a periodic refresh it finds the promoted replica. The
    // timer is ours, not ioredis' `slotsRefreshInterval`: a refresh in flight when the client
    // disconnects re-arms that one, and its timer then keeps the process alive for ever.
    const refresh = setInterval(() => {
      if (cluster.status === "ready") cluster.refreshSlotsCache();
    }, SLOTS_REFRESH_MS);
    refresh.unref();
    cluster.once("end", () => clearInterval(refresh));
    client = cluster;
  } else {
    client = new Redis(endpoint.url, {
      ...common,
      enableOfflineQueue: options.queueWhileOffline,
      enableAutoPipelining: options.autoPipelining ?? true,
      retryStrategy: reconnectDelay,
    });
  }
  // Without a listener ioredis prints every connection error, one per reconnection attempt.
  // Callers see failures as rejected commands (store_unavailable), and the server's StoreHealth
  // (src/ops/store-health.ts) logs an outage once when it begins and once when it ends.
  client.on("error", () => {});
  return client;
}

/**
 * Standalone, without auto-pipelining: call before each command, and the commands written in one
 * event-loop turn leave in one socket write (the socket is corked until setImmediate). Replies
 * resolve one by one as they arrive. A no-op on a cluster (auto-pipelined per node).
 */
export function tickBatcher(client: RedisClient): () => void {
  if (client instanceof Cluster) return () => {};
  let corked: Redis["stream"] | null = null;
  const flush = () => {
    const stream = corked;
    corked = null;
    stream?.uncork();
  };
  return () => {
    if (corked !== null || client.status !== "ready") return;
    corked = client.stream;
    corked.cork();
    setImmediate(flush);
  };
}

/**
 * Calls `seen` whenever bytes arrive from Redis on any of the client's connections: a sign of
 * life that comes before a whole auto-pipeline is answered.
 */
export function onData(client: RedisClient, seen: () => void): void {
  const watch = (node: Redis) => {
    node.on("connect", () => node.stream.on("data", seen));
    if (node.status === "ready" || node.status === "connect") node.stream.on("data", seen);
  };
  if (client instanceof Cluster) {
    client.on("+node", watch);
    for (const node of client.nodes()) watch(node);
  } else watch(client);
}

/**
 * Connects within `timeoutMs`, or rejects with store_unavailable at the first connection error:
 * at start-up an unreachable Redis is reported at once rather than retried in the background.
 */
export async function connect(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return;
  let timer: NodeJS.Timeout | undefined;
  let onError: ((err: Error) => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    onError = (err: Error) => reject(err);
    client.once("error", onError);
    timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    if (client.status === "wait") client.connect().catch(() => {});
    await ready;
  } catch (err) {
    client.disconnect();
    throw new DuetError("store_unavailable", `Cannot reach Redis: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    if (onError) client.off("error", onError);
  }
}

/** Closes politely (QUIT after pending replies), or drops the connection if that takes too long. */
export async function disconnect(client: RedisClient, timeoutMs = 1000): Promise<void> {
  if (client.status === "end") return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.quit().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  client.disconnect();
}
