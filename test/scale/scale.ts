/**
 * Helpers for the scale-out tests: several real duet processes on one Redis, users whose
 * connections survive the loss of a process (they resume elsewhere from their cursor, as the SDK
 * does), senders that retry idempotently, and the exactly-once check over everything a user got.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RedisStore } from "../../src/stores/redis/redis-store.js";
import { connect, type TestClient, type TransportName, type WireEvent } from "../helpers/clients.js";
import { type ChildDuet, spawnDuet, startDuet, tokenFor } from "../helpers/duet.js";
import { at, sleep } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { stopAllRedis } from "../helpers/redis-server.js";

export { ownerOf } from "../helpers/proc-sockets.js";

/** Generous: the machine is shared and loaded; a hang is what this guards against, not slowness. */
export const CLIENT_TIMEOUT_MS = 15_000;

/** Environment for every duet process of these tests: no send rate limit in the way. */
export const SCALE_ENV = { DUET_SEND_RATE: "100000", DUET_SEND_BURST: "100000" };

/** Starts `n` duet processes on `store` at once. */
export async function startDuets(
  n: number,
  store: string,
  env: Record<string, string> = {},
): Promise<ChildDuet[]> {
  const started = await Promise.allSettled(
    Array.from({ length: n }, () => spawnDuet({ ...SCALE_ENV, DUET_STORE: store, ...env })),
  );
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.kill("SIGKILL") : null)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<ChildDuet>).value);
}

/** A unique user id per run, so a test's users start with empty logs. */
export function userName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface PostResult {
  status: number;
  code?: string;
  id?: string;
  /** No answer within the client timeout. */
  hung?: boolean;
  /** The connection failed (refused, reset): the process is gone. */
  network?: string;
}

/** One `POST /v1/messages`, bounded by a client timeout. */
export async function postMessage(
  base: string,
  token: string,
  body: { to: string; text: string; clientMsgId?: string },
  timeoutMs = CLIENT_TIMEOUT_MS,
): Promise<PostResult> {
  try {
    const res = await fetch(`${base}/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const parsed = (await res.json()) as { message?: { id: string }; error?: { code: string } };
    return { status: res.status, id: parsed.message?.id, code: parsed.error?.code };
  } catch (err) {
    const e = err as Error;
    if (e.name === "TimeoutError") return { status: 0, hung: true };
    return { status: 0, network: `${e.message} ${(e.cause as Error | undefined)?.message ?? ""}` };
  }
}

/** A message a test sent, with every attempt it took to get it accepted. */
export interface Sent {
  from: string;
  to: string;
  text: string;
  clientMsgId: string;
  attempts: PostResult[];
  /** The stored message's id once a 201 (or a 200 for a repeat) came back. */
  id?: string;
  /** True when the first 2xx was a 201 (not an idempotent 200). */
  created?: boolean;
}

/**
 * Sends one message and, like the SDK's offline queue, retries it with the same clientMsgId
 * (on the next base) until it is accepted: the store cannot keep it twice. `retry` decides
 * whether an attempt's outcome may be retried; anything else is an error thrown to the test.
 */
export async function sendUntilAccepted(
  sent: Sent,
  token: string,
  bases: () => string[],
  options: { retry: (r: PostResult) => boolean; deadlineMs?: number; pauseMs?: number },
): Promise<Sent> {
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  for (let attempt = 0; ; attempt++) {
    const candidates = bases();
    const base = at(candidates, attempt % candidates.length);
    const r = await postMessage(base, token, { to: sent.to, text: sent.text, clientMsgId: sent.clientMsgId });
    sent.attempts.push(r);
    if (r.status === 201 || r.status === 200) {
      sent.id = r.id;
      sent.created = r.status === 201;
      return sent;
    }
    if (!options.retry(r) || Date.now() > deadline)
      throw new Error(`send ${sent.text}: ${JSON.stringify(sent.attempts)}`);
    await sleep(options.pauseMs ?? 100);
  }
}

/** Everything a test started that keeps running by itself: stopped by `stopClients` in after(). */
const running = new Set<{ stop(): Promise<void> }>();

/** Stops every Receiver and SteadySender still running (a failed test leaves them going). */
export async function stopClients(): Promise<void> {
  await Promise.allSettled([...running].map((r) => r.stop()));
  running.clear();
}

export function track(thing: { stop(): Promise<void> }): void {
  running.add(thing);
}

/**
 * One user's connection that outlives the process it is on: when it ends unexpectedly it opens
 * the same transport on another process (from `bases`) with `since`/`epoch` from where it was.
 * `stored()` is every stored event received over all its connections, in arrival order.
 */
export class Receiver {
  readonly user: string;
  readonly transport: TransportName;
  readonly clients: TestClient[] = [];
  /** Failed attempts to reconnect (process gone, store unavailable). */
  readonly failedAttempts: string[] = [];
  private token = "";
  private stopped = false;
  private readonly bases: () => string[];
  private reconnecting: Promise<void> | null = null;
  /** The process URL the current connection is on. */
  base = "";

  constructor(user: string, transport: TransportName, bases: () => string[]) {
    this.user = user;
    this.transport = transport;
    this.bases = bases;
  }

  get current(): TestClient {
    return at(this.clients, this.clients.length - 1);
  }

  async start(base: string): Promise<this> {
    track(this);
    this.token = await tokenFor(this.user);
    await this.open(base, {});
    return this;
  }

  private async open(base: string, cursor: { since?: number; epoch?: string }): Promise<void> {
    const client = await connect(this.transport, base, this.token, { ...cursor, pollTimeout: 5 });
    this.base = base;
    this.clients.push(client);
    void client.closed.then(() => {
      if (!this.stopped && this.current === client) this.reconnecting = this.reconnect();
    });
  }

  private async reconnect(): Promise<void> {
    const from = this.current.cursor;
    for (let attempt = 0; !this.stopped; attempt++) {
      const candidates = this.bases();
      // First another process than the one that failed; the same one too, once others failed.
      const ordered = [
        ...candidates.filter((b) => b !== this.base),
        ...candidates.filter((b) => b === this.base),
      ];
      const base = at(ordered, attempt % ordered.length);
      try {
        await this.open(base, { since: from.since, epoch: from.epoch });
        return;
      } catch (err) {
        this.failedAttempts.push(`${base}: ${(err as Error).message}`);
        await sleep(Math.min(50 * 2 ** attempt, 500));
      }
    }
  }

  /** Stored events (message, read) over every connection, in arrival order. */
  stored(): WireEvent[] {
    return this.clients.flatMap((c) => c.stored());
  }

  /** The seq of the newest stored event received (or of the first hello). */
  get seq(): number {
    return this.current?.cursor.since ?? 0;
  }

  waitForSeq(seq: number, timeoutMs = 60_000): Promise<void> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const timer = setInterval(() => {
        if (this.seq >= seq) {
          clearInterval(timer);
          resolve();
        } else if (Date.now() - started > timeoutMs) {
          clearInterval(timer);
          reject(
            new Error(
              `${this.user} (${this.transport}) at seq ${this.seq}, waited for ${seq}; connections ${this.clients.length}, ended ${JSON.stringify(this.current?.ended)}; failed reconnects: ${this.failedAttempts.slice(-3).join(" | ")}`,
            ),
          );
        }
      }, 10);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reconnecting;
    await Promise.all(this.clients.map((c) => c.close().catch(() => {})));
  }
}

/**
 * The exactly-once check for one user over all its connections: stored events with seqs
 * `from+1 .. from+n` each exactly once and in order, and their messages exactly `expectedIds`
 * in that order (a user's log holds each message of its conversations once). Returns a
 * description of what is wrong, or null.
 */
export function exactlyOnce(events: WireEvent[], from: number, expectedIds: string[]): string | null {
  const seqs = events.map((e) => e.seq as number);
  const problems: string[] = [];
  for (let i = 0; i < seqs.length; i++) {
    if (seqs[i] !== from + 1 + i) {
      problems.push(`event ${i} has seq ${seqs[i]}, expected ${from + 1 + i} (seqs: ${runs(seqs)})`);
      break;
    }
  }
  const ids = events.filter((e) => e.type === "message").map((e) => (e.message as { id: string }).id);
  if (ids.length !== expectedIds.length || ids.some((id, i) => id !== expectedIds[i])) {
    const got = new Set(ids);
    const missing = expectedIds.filter((id) => !got.has(id));
    const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
    problems.push(
      `messages: got ${ids.length}, expected ${expectedIds.length}; missing ${missing.length} [${missing.slice(0, 3)}], duplicated ${dup.length} [${dup.slice(0, 3)}]${missing.length === 0 && dup.length === 0 ? ", order differs" : ""}`,
    );
  }
  return problems.length === 0 ? null : problems.join("; ");
}

function runs(seqs: number[]): string {
  const out: string[] = [];
  let start = 0;
  for (let i = 1; i <= seqs.length; i++) {
    if (i === seqs.length || at(seqs, i) !== at(seqs, i - 1) + 1) {
      out.push(start === i - 1 ? `${seqs[start]}` : `${seqs[start]}-${seqs[i - 1]}`);
      start = i;
    }
  }
  return out.join(",").slice(0, 300);
}

/** A conversation's message ids as the store orders them (history, all pages). */
export async function historyIds(base: string, user: string, peer: string): Promise<string[]> {
  const token = await tokenFor(user);
  const ids: string[] = [];
  let after = "";
  for (;;) {
    const q = after === "" ? "limit=200" : `limit=200&after=${after}`;
    const res = await fetch(`${base}/v1/conversations/${peer}/messages?${q}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    if (res.status !== 200) throw new Error(`history ${user}/${peer}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { messages: { id: string }[]; hasMore: boolean };
    ids.push(...body.messages.map((m) => m.id));
    if (!body.hasMore || body.messages.length === 0) return ids;
    after = at(body.messages, body.messages.length - 1).id;
  }
}

/** GET a path; the status, or 0 when there was no answer within the client timeout. */
export async function statusOf(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Polls until `check` holds (a guard against a hang, not a measurement). */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
  detail: () => string = () => "",
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} ${detail()}`);
    await sleep(50);
  }
}

/** SPUBLISH calls a set of Redis servers have run (INFO commandstats), masters only. */
export async function spublishCalls(servers: { cli(...args: string[]): Promise<string> }[]): Promise<number> {
  let total = 0;
  for (const server of servers) {
    if (!(await server.cli("INFO", "replication")).includes("role:master")) continue;
    const match = /cmdstat_spublish:calls=(\d+)/.exec(await server.cli("INFO", "commandstats"));
    total += match ? Number(match[1]) : 0;
  }
  return total;
}

/**
 * Sends `count` messages through an in-process duet on `store` over HTTP, one at a time, after a
 * warm-up send (the first use of a script loads it), and counts what each send cost: requests
 * the RedisStore made (its `roundTrips`) and SPUBLISHes the Redis masters ran.
 */
export async function costPerSend(
  store: string,
  servers: { cli(...args: string[]): Promise<string> }[],
  count: number,
): Promise<{ roundTrips: number; publications: number }> {
  // The store-health ping and the ban cache's refresh are store requests too, but not a send's:
  // they are kept out of the window (on a loaded machine 20 sends can outlast their periods).
  const server = await startDuet({
    DUET_STORE: store,
    ...SCALE_ENV,
    DUET_STORE_CHECK_MS: "600000",
    DUET_BAN_REFRESH_MS: "600000",
  });
  try {
    const redisStore = server.chat.store as RedisStore;
    const [a, b] = [userName("cost-a"), userName("cost-b")];
    const token = await tokenFor(a);
    const send = async (n: number) => {
      const r = await postMessage(server.url, token, { to: b, text: `cost ${n}` });
      if (r.status !== 201) throw new Error(`send: ${JSON.stringify(r)}`);
    };
    await send(-1);
    const trips = redisStore.roundTrips;
    const pubs = await spublishCalls(servers);
    for (let n = 0; n < count; n++) await send(n);
    return {
      roundTrips: (redisStore.roundTrips - trips) / count,
      publications: ((await spublishCalls(servers)) - pubs) / count,
    };
  } finally {
    await server.close();
  }
}

/** Where traffic stands, for a failure message. */
export function trafficState(
  senders: { from: string; accepted: number; attempts(): PostResult[] }[],
  receivers: Receiver[],
): string {
  const sending = senders.map(
    (s) => `${s.from}: ${s.accepted} accepted, last ${JSON.stringify(s.attempts().at(-1))}`,
  );
  const receiving = receivers.map(
    (r) =>
      `${r.user} ${r.transport} seq ${r.seq} conns ${r.clients.length} ended ${JSON.stringify(r.current?.ended)}`,
  );
  return `\nsenders:\n  ${sending.join("\n  ")}\nreceivers:\n  ${receiving.join("\n  ")}`;
}

/** With DUET_SCALE_LOGS=<dir>, keeps each duet process's output there (to debug a failure). */
export function keepLogs(name: string, duets: ChildDuet[]): void {
  const dir = process.env.DUET_SCALE_LOGS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  duets.forEach((d, i) => {
    writeFileSync(join(dir, `${name}-${i}.log`), d.logs.join("\n"));
  });
}

/** The end of every scale suite: clients closed, logs kept, processes and Redis stopped. */
export async function stopEverything(name: string, duets: ChildDuet[]): Promise<void> {
  await stopClients();
  keepLogs(name, duets);
  await Promise.all(duets.map((d) => d.kill("SIGKILL")));
  await stopAllRedis();
}
