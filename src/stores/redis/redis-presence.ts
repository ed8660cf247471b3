import { hostname } from "node:os";
import { DuetError } from "../../core/errors.js";
import type { PresenceRegistry } from "../../core/ports/presence.js";
import type { PresenceInfo } from "../../core/types.js";
import { connect, createClient, disconnect, type RedisClient } from "./connection.js";
import { RedisKeys } from "./keys.js";
import { newNodeId } from "./redis-broker.js";
import { Scripts } from "./scripts.js";

export interface RedisPresenceOptions {
  /** The key prefix of the data set (default "duet:"). */
  prefix?: string;
  /** This process's id (default: random; use the broker's so stats name one id per process). */
  nodeId?: string;
  /** A user answered a poll this recently counts as online (default 60 s). */
  pollWindowMs?: number;
  /** How often this process renews its liveness key (default 5 s). */
  heartbeatMs?: number;
  /** A process whose key was not renewed for this long is dead, with its connections (default 15 s). */
  nodeTtlMs?: number;
  /** Deadline for a Redis reply (ms, default 2000). */
  timeoutMs?: number;
}

export interface NodeInfo {
  id: string;
  host: string;
  pid: number;
  startedAt: number;
}

/**
 * Presence shared by every process (see PresenceRegistry for the contract). Each user has a hash
 * in its own slot: per process, the count of the user's open connections there, plus `seen` (last
 * disconnection or poll) and `polled` (last poll).
 * Counts are written as absolute values from this process's own tally, so a write is idempotent
 * and the whole tally is written again whenever the connection to Redis comes back. A process
 * that dies takes its counts with it: they only count while its liveness key (renewed by a
 * heartbeat) exists, and a query that finds a dead process's count removes it.
 */
export class RedisPresence implements PresenceRegistry {
  readonly nodeId: string;
  private readonly client: RedisClient;
  private readonly keys: RedisKeys;
  private readonly scripts: Scripts;
  private readonly local = new Map<string, number>();
  private readonly liveness = new Map<string, { alive: boolean; checkedAt: number }>();
  private readonly pollWindowMs: number;
  private readonly heartbeatMs: number;
  private readonly nodeTtlMs: number;
  private readonly timeoutMs: number;
  private readonly info: NodeInfo;
  private heartbeat: NodeJS.Timeout | undefined;
  private wasReady = false;

  constructor(url: string, options: RedisPresenceOptions = {}) {
    this.nodeId = options.nodeId ?? newNodeId();
    this.keys = new RedisKeys(options.prefix);
    this.pollWindowMs = options.pollWindowMs ?? 60_000;
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
    this.nodeTtlMs = options.nodeTtlMs ?? 15_000;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.info = { id: this.nodeId, host: hostname(), pid: process.pid, startedAt: Date.now() };
    this.client = createClient(url, {
      name: "duet-presence",
      commandTimeoutMs: this.timeoutMs,
      queueWhileOffline: false,
    });
    this.scripts = new Scripts(this.client);
    this.client.on("ready", () => {
      this.beat();
      // Back after a loss (maybe of Redis's data too): say again who is connected here.
      if (this.wasReady) for (const user of this.local.keys()) this.write(user, null);
      this.wasReady = true;
    });
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Connects; rejects with store_unavailable when Redis cannot be reached. */
  async connect(): Promise<void> {
    await connect(this.client, this.timeoutMs * 2);
  }

  private beat(): void {
    this.client.set(this.keys.node(this.nodeId), "1", "PX", this.nodeTtlMs).catch(() => {});
    this.client.hset(this.keys.nodes, this.nodeId, JSON.stringify(this.info)).catch(() => {});
  }

  private write(user: string, seen: number | null): void {
    const count = this.local.get(user) ?? 0;
    const args = [`n:${this.nodeId}`, String(count), seen === null ? "" : String(seen), "0"];
    this.scripts.run("duetPresence", [this.keys.user(user).presence], args).catch(() => {});
  }

  connected(user: string): void {
    this.local.set(user, (this.local.get(user) ?? 0) + 1);
    this.write(user, null);
  }

  disconnected(user: string): void {
    const n = (this.local.get(user) ?? 1) - 1;
    if (n > 0) this.local.set(user, n);
    else this.local.delete(user);
    this.write(user, Date.now());
  }

  polled(user: string): void {
    const args = ["", "", String(Date.now()), "1"];
    this.scripts.run("duetPresence", [this.keys.user(user).presence], args).catch(() => {});
  }

  async query(users: string[]): Promise<Record<string, PresenceInfo>> {
    const hashes = await this.withDeadline(
      Promise.all(users.map((user) => this.client.hgetall(this.keys.user(user).presence))),
    );
    const nodes = new Set<string>();
    for (const hash of hashes)
      for (const field of Object.keys(hash)) if (field.startsWith("n:")) nodes.add(field.slice(2));
    const alive = await this.aliveNodes([...nodes]);
    const now = Date.now();
    const out: Record<string, PresenceInfo> = {};
    users.forEach((user, i) => {
      const hash = hashes[i] ?? {};
      let online = false;
      for (const [field, value] of Object.entries(hash)) {
        if (!field.startsWith("n:") || Number(value) <= 0) continue;
        if (alive.has(field.slice(2))) online = true;
        else this.client.hdel(this.keys.user(user).presence, field).catch(() => {});
      }
      const seen = hash.seen === undefined ? undefined : Number(hash.seen);
      const polled = hash.polled === undefined ? undefined : Number(hash.polled);
      if (online || (polled !== undefined && now - polled < this.pollWindowMs)) out[user] = { online: true };
      else out[user] = seen === undefined ? { online: false } : { online: false, lastSeen: seen };
    });
    return out;
  }

  /** Which of `ids` are live processes; answers are cached for one heartbeat. */
  private async aliveNodes(ids: string[]): Promise<Set<string>> {
    const now = Date.now();
    const unknown = ids.filter((id) => {
      const cached = this.liveness.get(id);
      return id !== this.nodeId && (!cached || now - cached.checkedAt > this.heartbeatMs);
    });
    if (unknown.length > 0) {
      const exists = await this.withDeadline(
        Promise.all(unknown.map((id) => this.client.exists(this.keys.node(id)))),
      );
      unknown.forEach((id, i) => {
        this.liveness.set(id, { alive: exists[i] === 1, checkedAt: now });
      });
    }
    return new Set(ids.filter((id) => id === this.nodeId || this.liveness.get(id)?.alive));
  }

  /** The live duet processes sharing this data set (for the admin stats); forgets dead ones. */
  async nodes(): Promise<NodeInfo[]> {
    const all = await this.withDeadline(this.client.hgetall(this.keys.nodes));
    this.liveness.clear();
    const alive = await this.aliveNodes(Object.keys(all));
    for (const id of Object.keys(all)) {
      if (!alive.has(id)) this.client.hdel(this.keys.nodes, id).catch(() => {});
    }
    const infos = [...alive].flatMap((id) => {
      const info = all[id];
      return info === undefined ? [] : [JSON.parse(info) as NodeInfo];
    });
    return infos.sort((a, b) => a.startedAt - b.startedAt);
  }

  private async withDeadline<T>(request: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        request,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      throw new DuetError("store_unavailable", `Redis (presence): ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Withdraws this process: its users' connections here end now. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    const now = Date.now();
    for (const user of this.local.keys()) {
      this.local.set(user, 0);
      this.write(user, now);
    }
    this.local.clear();
    await Promise.all([
      this.client.del(this.keys.node(this.nodeId)).catch(() => {}),
      this.client.hdel(this.keys.nodes, this.nodeId).catch(() => {}),
    ]);
    await disconnect(this.client);
  }
}

/** A RedisPresence, connected. */
export async function openRedisPresence(
  url: string,
  options: RedisPresenceOptions = {},
): Promise<RedisPresence> {
  const presence = new RedisPresence(url, options);
  try {
    await presence.connect();
  } catch (err) {
    await presence.close();
    throw err;
  }
  return presence;
}
