import type {
  NewOutboxEntry,
  Outbox,
  OutboxDepth,
  OutboxEntry,
  OutboxOutcome,
} from "../../core/ports/outbox.js";
import type { RedisClient } from "./connection.js";
import type { OutboxKeys } from "./keys.js";
import type { ScriptArg, ScriptName, Scripts } from "./scripts.js";

/** Parses a stored value (see lua/outbox-steps.lua): "<createdAt>\n<attempts>\n<type>\n<lastError>\n<data>". */
function parse(id: string, value: string): OutboxEntry {
  const a = value.indexOf("\n");
  const b = value.indexOf("\n", a + 1);
  const c = value.indexOf("\n", b + 1);
  const d = value.indexOf("\n", c + 1);
  const lastError = value.slice(c + 1, d);
  return {
    id,
    createdAt: Number(value.slice(0, a)),
    attempts: Number(value.slice(a + 1, b)),
    type: value.slice(b + 1, c),
    lastError: lastError === "" ? null : lastError,
    data: value.slice(d + 1),
  };
}

function pairs(reply: unknown[]): OutboxEntry[] {
  const out: OutboxEntry[] = [];
  for (let i = 0; i < reply.length; i += 2) out.push(parse(String(reply[i]), String(reply[i + 1])));
  return out;
}

/** One line, so the stored value keeps its shape. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ").slice(0, 500);
}

/**
 * The Redis outbox: every key in the slot of the hash tag {ob}, each operation one script (bounded
 * work: claims and listings take at most `limit` entries, retry-all moves 500 per call).
 */
export class RedisOutbox implements Outbox {
  private readonly client: RedisClient;
  private readonly keys: OutboxKeys;
  private readonly scripts: Scripts;
  private readonly call: <T>(request: () => Promise<T>) => Promise<T>;

  constructor(
    client: RedisClient,
    keys: OutboxKeys,
    scripts: Scripts,
    call: <T>(request: () => Promise<T>) => Promise<T>,
  ) {
    this.client = client;
    this.keys = keys;
    this.scripts = scripts;
    this.call = call;
  }

  private script(name: ScriptName, keys: string[], args: ScriptArg[]): Promise<unknown> {
    return this.call(() => this.scripts.run(name, keys, args));
  }

  async enqueue(entries: NewOutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const args: ScriptArg[] = [Date.now()];
    for (const e of entries)
      args.push(e.id, e.type, e.data, e.dueAt === undefined ? "" : Math.floor(e.dueAt));
    await this.script("duetOutboxEnqueue", [this.keys.due, this.keys.entries], args);
  }

  async claim(limit: number, leaseMs: number): Promise<OutboxEntry[]> {
    const reply = (await this.script(
      "duetOutboxClaim",
      [this.keys.due, this.keys.entries],
      [Date.now(), limit, leaseMs],
    )) as unknown[];
    return pairs(reply);
  }

  ack(id: string): Promise<void> {
    return this.settle([{ id, action: "ack" }]);
  }

  reschedule(id: string, dueAt: number, lastError: string): Promise<void> {
    return this.settle([{ id, action: "reschedule", dueAt, lastError }]);
  }

  fail(id: string, lastError: string): Promise<void> {
    return this.settle([{ id, action: "fail", lastError }]);
  }

  /** One script call for the whole batch (every outbox key is in the {ob} slot). */
  async settle(outcomes: OutboxOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const args: ScriptArg[] = [Date.now()];
    for (const o of outcomes) {
      if (o.action === "ack") args.push(o.id, "ack", 0, "");
      else if (o.action === "reschedule")
        args.push(o.id, "reschedule", Math.floor(o.dueAt), oneLine(o.lastError));
      else args.push(o.id, "fail", 0, oneLine(o.lastError));
    }
    await this.script("duetOutboxSettle", [this.keys.due, this.keys.entries, this.keys.failed], args);
  }

  async listFailed(limit: number): Promise<OutboxEntry[]> {
    const reply = (await this.script(
      "duetOutboxFailed",
      [this.keys.entries, this.keys.failed],
      [limit],
    )) as unknown[];
    return pairs(reply);
  }

  async retryFailed(ids?: string[]): Promise<number> {
    const keys = [this.keys.due, this.keys.entries, this.keys.failed];
    if (ids !== undefined) {
      if (ids.length === 0) return 0;
      return Number(await this.script("duetOutboxRetry", keys, [Date.now(), ...ids]));
    }
    let total = 0;
    for (;;) {
      const n = Number(await this.script("duetOutboxRetry", keys, [Date.now(), "*"]));
      total += n;
      if (n < 500) return total;
    }
  }

  async depth(): Promise<OutboxDepth> {
    const r = (await this.script("duetOutboxDepth", [this.keys.due, this.keys.failed], [])) as unknown[];
    return { pending: Number(r[0]), failed: Number(r[1]) };
  }

  async nextDue(): Promise<number | null> {
    const r = (await this.script("duetOutboxDepth", [this.keys.due, this.keys.failed], [])) as unknown[];
    return r[2] === "" || r[2] === null ? null : Number(r[2]);
  }

  getMark(key: string): Promise<string | null> {
    return this.call(() => this.client.get(this.keys.mark + key));
  }

  async setMark(key: string, value: string, ttlMs: number): Promise<void> {
    await this.call(() => this.client.set(this.keys.mark + key, value, "PX", Math.max(1, Math.floor(ttlMs))));
  }

  /** HSCAN of the entries hash: bounded per call (COUNT is a hint of the work, not a promise). */
  async scan(cursor: string | null, limit: number): Promise<{ entries: OutboxEntry[]; next: string | null }> {
    const [next, flat] = await this.call(() =>
      this.client.hscan(this.keys.entries, cursor ?? "0", "COUNT", limit),
    );
    return { entries: pairs(flat), next: next === "0" ? null : next };
  }

  async remove(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return Number(
      await this.script("duetOutboxRemove", [this.keys.due, this.keys.entries, this.keys.failed], ids),
    );
  }
}
