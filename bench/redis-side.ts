/**
 * The Redis the bench runs duet (or the Socket.IO adapter) on: a private redis-server, a private
 * Redis Cluster of 3 masters (test/helpers/redis-server.ts), or a URL given on the command line;
 * and what the bench reads from it over the measured window, summed over every node: commands by
 * name (INFO commandstats), bytes in and out over client sockets (INFO stats
 * total_net_input_bytes / total_net_output_bytes) and the redis-server processes whose CPU
 * counts as the server's.
 */
import { Socket } from "node:net";
import { at } from "../test/helpers/kit.js";
import { startRedisCluster } from "../test/helpers/redis-server.js";
import { type ServerProcess, startRedis } from "./servers.js";

export type RedisKind = "redis" | "redis-cluster";

export interface RedisSide {
  kind: RedisKind;
  /** What duet's DUET_STORE and the relay's REDIS_URL take: redis://… or redis-cluster://…. */
  url: string;
  /** redis://host:port of every node, for INFO. */
  nodes: string[];
  /** redis-server processes on this machine (none for a URL given from outside: its CPU is not ours to count). */
  pids: number[];
  stop(): Promise<void>;
}

/** One INFO command's reply, every `key:value` line. */
function info(nodeUrl: string, sections: string[]): Promise<Map<string, string>> {
  const { hostname, port } = new URL(nodeUrl);
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let reply = Buffer.alloc(0);
    socket.setTimeout(5_000, () => {
      socket.destroy();
      reject(new Error(`INFO ${sections.join(" ")} on ${nodeUrl} timed out`));
    });
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      // A bulk string: $<length>\r\n<payload>\r\n (or an -ERR line).
      const text = reply.toString("latin1");
      if (text.startsWith("-")) {
        socket.destroy();
        reject(new Error(`INFO on ${nodeUrl}: ${text.trim()}`));
        return;
      }
      const header = /^\$(\d+)\r\n/.exec(text);
      if (!header || reply.length < header[0].length + Number(header[1])) return;
      socket.destroy();
      const fields = new Map<string, string>();
      for (const line of text.slice(header[0].length).split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
      }
      resolve(fields);
    });
    socket.connect(Number(port), hostname, () => socket.write(`INFO ${sections.join(" ")}\r\n`));
  });
}

/** What the bench reads from every node at the start and the end of the measured window. */
export interface RedisReading {
  /** Calls per command (commands that scripts run count too, under their own names). */
  calls: Record<string, number>;
  /** Bytes Redis read from and wrote to client sockets (replication and the cluster bus excluded). */
  netInBytes: number;
  netOutBytes: number;
}

/** INFO stats and commandstats of every node, summed. The INFO exchange itself adds a few KB. */
export async function readRedis(nodes: string[]): Promise<RedisReading> {
  const replies = await Promise.all(nodes.map((node) => info(node, ["stats", "commandstats"])));
  const sum: RedisReading = { calls: {}, netInBytes: 0, netOutBytes: 0 };
  for (const fields of replies) {
    sum.netInBytes += Number(fields.get("total_net_input_bytes") ?? 0);
    sum.netOutBytes += Number(fields.get("total_net_output_bytes") ?? 0);
    for (const [key, value] of fields) {
      if (!key.startsWith("cmdstat_")) continue;
      const calls = /(?:^|,)calls=(\d+)/.exec(value);
      if (calls) {
        const command = key.slice("cmdstat_".length);
        sum.calls[command] = (sum.calls[command] ?? 0) + Number(at(calls, 1));
      }
    }
  }
  return sum;
}

async function processId(nodeUrl: string): Promise<number> {
  return Number((await info(nodeUrl, ["server"])).get("process_id"));
}

/**
 * A fresh Redis for one run. `redis`: one redis-server, AOF on (fsync every second).
 * `redis-cluster`: 3 masters, no replicas, AOF on each (fsync every second), as one would run a
 * small cluster; a `redis://` URL: that server, left as it is.
 */
export async function startRedisSide(
  store: string,
  track: (server: ServerProcess) => void,
  untrack: (server: ServerProcess) => void,
): Promise<RedisSide> {
  if (store === "redis") {
    const { server, url } = await startRedis();
    track(server);
    return {
      kind: "redis",
      url,
      nodes: [url],
      pids: [server.pid],
      stop: async () => {
        await server.stop();
        untrack(server);
      },
    };
  }
  if (store === "redis-cluster") {
    const cluster = await startRedisCluster({ masters: 3 });
    try {
      await Promise.all(cluster.nodes.map((node) => node.cli("CONFIG", "SET", "appendonly", "yes")));
      const nodes = cluster.nodes.map((node) => node.url);
      const pids = await Promise.all(nodes.map(processId));
      return {
        kind: "redis-cluster",
        url: cluster.url,
        nodes,
        pids,
        // The helper's exit hook kills the nodes too if the bench dies before this runs.
        stop: async () => {
          await Promise.all(cluster.nodes.map((node) => node.destroy()));
        },
      };
    } catch (err) {
      await Promise.all(cluster.nodes.map((node) => node.destroy()));
      throw err;
    }
  }
  // A URL from outside: one server (redis://), or a cluster given by its seeds (redis-cluster://).
  const nodes = store.startsWith("redis-cluster://")
    ? store
        .slice("redis-cluster://".length)
        .replace(/^[^@]*@/, "")
        .replace(/\/$/, "")
        .split(",")
        .map((hostPort) => `redis://${hostPort}`)
    : [store];
  return {
    kind: store.startsWith("redis-cluster://") ? "redis-cluster" : "redis",
    url: store,
    nodes,
    pids: [],
    stop: async () => {},
  };
}
