import { hostname } from "node:os";
import { LocalBroker } from "../core/local-broker.js";
import { LocalPresence } from "../core/local-presence.js";
import type { PairsMode } from "../core/pairs.js";
import type { Broker } from "../core/ports/broker.js";
import type { PresenceRegistry } from "../core/ports/presence.js";
import type { RetentionPolicy, Store } from "../core/ports/store.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";

/** A store with what the processes sharing it need: a broker, presence, upkeep. */
export interface Backend {
  store: Store;
  broker: Broker;
  presence: PresenceRegistry;
  /** Periodic upkeep (age-based retention where the store does not do it on write). */
  maintain(): void;
  /** Figures for /v1/admin/stats. */
  stats(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface BackendOptions {
  retention: RetentionPolicy;
  sqliteSync: "normal" | "full";
  pairs?: PairsMode;
  /** SPEC 15: the server-wide message ttl (s; 0: none). */
  messageTtlS?: number;
}

/** Opens the store named by DUET_STORE (`sqlite:<path>`, `redis://…`, `redis-cluster://…`). */
export async function openBackend(url: string, options: BackendOptions): Promise<Backend> {
  if (url.startsWith("sqlite:")) {
    const store = new SqliteStore({
      path: url.slice("sqlite:".length) || "./data/duet.db",
      retention: options.retention,
      synchronous: options.sqliteSync,
      pairs: options.pairs,
      messageTtlS: options.messageTtlS ?? 0,
    });
    const presence = new LocalPresence();
    return {
      store,
      broker: new LocalBroker(),
      presence,
      maintain: () => store.trimByAge(),
      stats: async () => ({ nodes: [{ id: `${hostname()}:${process.pid}` }] }),
      close: async () => {
        await presence.close();
        await store.close();
      },
    };
  }
  // redis://, rediss:// or redis-cluster://: the same three parts, shared by every process.
  const { newNodeId, openRedisBroker, openRedisPresence, openRedisStore } = await import("./redis/index.js");
  const nodeId = newNodeId();
  // The store publishes each send's events itself, as this process's broker (see RedisStoreOptions.nodeId).
  const store = await openRedisStore(url, {
    retention: options.retention,
    nodeId,
    pairs: options.pairs,
    messageTtlS: options.messageTtlS ?? 0,
  });
  const [broker, presence] = await Promise.all([
    openRedisBroker(url, { nodeId }),
    openRedisPresence(url, { nodeId }),
  ]);
  return {
    store,
    broker,
    presence,
    maintain: () => {}, // retention is part of each write
    stats: async () => ({ nodes: await presence.nodes() }),
    close: async () => {
      await Promise.allSettled([broker.close(), presence.close()]);
      await store.close();
    },
  };
}

/** Whether several processes may share this store (`--workers`). */
export function isSharedStore(url: string): boolean {
  return !url.startsWith("sqlite:");
}
