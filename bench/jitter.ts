/**
 * The jitter workload (issue 7): users in pairs, each with an SDK client behind its own chaos
 * proxy; every client is cut (RST, then refused) for `cutMs` every 10-15 s while each user sends its
 * peer a numbered message every 200 ms through the SDK, connected or not. Afterwards every message
 * must have arrived exactly once and in order; the table gives delivery %, duplicates, and the
 * longest catch-up (the longest any message took from `send()` to the peer's `message` event).
 *
 *   node --import tsx bench/jitter.ts [--users 20] [--seconds 60] [--transport ws,sse,...,auto]
 *
 * test/network/jitter.test.ts runs a shorter version of the same function.
 */

import { parseArgs } from "node:util";
import WebSocket from "ws";
import { connect, type DuetClient, type TransportName } from "../src/client/index.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { startServer } from "../src/server.js";
import { ChaosProxy } from "../test/helpers/chaos-proxy.js";
import { sleep } from "../test/helpers/kit.js";

export type JitterTransport = TransportName | "auto";

export interface JitterOptions {
  /** Users per transport, in pairs (an even number). */
  users: number;
  /** How long every user sends, in ms. */
  durationMs: number;
  /** One message per user every `intervalMs` (200). */
  intervalMs: number;
  /** Each cut lasts this long (2000). */
  cutMs: number;
  /** A client is cut again after a random gap in this range (10-15 s). */
  cutEveryMs: [number, number];
  /** Transports, each forced in turn (`auto`: the SDK picks). */
  transports: JitterTransport[];
  /** Run the transports at the same time (with their own users) instead of one after another. */
  concurrent: boolean;
  /** After sending stops, how long to wait for the last messages before counting them lost. */
  drainMs: number;
  /** SDK options that matter for recovery (the defaults are the SDK's). */
  sdk?: { backoff?: { initialMs?: number; maxMs?: number }; pollIntervalMs?: number };
  log?: (line: string) => void;
}

export const JITTER_DEFAULTS: JitterOptions = {
  users: 20,
  durationMs: 60_000,
  intervalMs: 200,
  cutMs: 2_000,
  cutEveryMs: [10_000, 15_000],
  transports: ["ws", "sse", "stream", "longpoll", "poll", "auto"],
  concurrent: false,
  drainMs: 60_000,
};

export interface JitterRow {
  transport: JitterTransport;
  users: number;
  /** Messages handed to `send()`. */
  sent: number;
  /** Distinct messages received by their recipient. */
  delivered: number;
  deliveredPct: number;
  /** `message` events for a number already received. */
  duplicates: number;
  /** `message` events whose number was not the next expected one (after a lower one). */
  outOfOrder: number;
  /** Messages stored more than once on the server (from the history API). */
  storedDuplicates: number;
  /** `send()` promises that rejected (the SDK gave up on a message), and why (a few). */
  sendFailures: number;
  sendErrors: string[];
  /** Cuts made, over all clients. */
  cuts: number;
  /** `reset` events other than the initial one (the cursor could not be resumed). */
  resets: number;
  p50Ms: number;
  p99Ms: number;
  /** The longest any message took from `send()` to the peer's `message` event. */
  longestCatchUpMs: number;
  /** Transports the clients were online on, with counts of times they came online. */
  onlineOn: Record<string, number>;
}

interface Party {
  user: string;
  peer: string;
  client: DuetClient;
  proxy: ChaosProxy;
  /** send() time of each number this user sent. */
  sentAt: number[];
  /** Numbers received from the peer, in arrival order, with arrival times. */
  received: { n: number; at: number }[];
  sendFailures: number;
  sendErrors: string[];
  cuts: number;
  resets: number;
  onlineOn: Record<string, number>;
}

const uniform = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

async function mintToken(server: { url: string; apiKey: string }, user: string): Promise<string> {
  const res = await fetch(`${server.url}/v1/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ user, ttlSeconds: 3600 }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`minting a token: ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/** Every message of a conversation, oldest first, through the history API (as `user`). */
async function history(url: string, token: string, peer: string): Promise<{ from: string; text?: string }[]> {
  const out: { from: string; text?: string; id: string }[] = [];
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: "200", ...(after ? { after } : {}) });
    const res = await fetch(`${url}/v1/conversations/${peer}/messages?${q}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) throw new Error(`history: ${res.status}`);
    const page = (await res.json()) as {
      messages: { id: string; from: string; text?: string }[];
      hasMore: boolean;
    };
    out.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return out;
    after = page.messages.at(-1)!.id;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One transport's run: its own users, clients and proxies. */
async function runOne(
  server: { url: string; apiKey: string; port: number },
  transport: JitterTransport,
  options: JitterOptions,
  tag: string,
): Promise<JitterRow> {
  const parties: Party[] = [];
  for (let i = 0; i < options.users; i++) {
    const user = `j-${tag}-${transport}-${i}`;
    const peer = `j-${tag}-${transport}-${i ^ 1}`;
    const proxy = await ChaosProxy.start({ target: { port: server.port } });
    const client = connect({
      url: proxy.url,
      token: await mintToken(server, user),
      WebSocket: WebSocket as never,
      ...(transport === "auto" ? {} : { transports: [transport] }),
      ...(options.sdk?.backoff ? { backoff: options.sdk.backoff } : {}),
      ...(options.sdk?.pollIntervalMs ? { pollIntervalMs: options.sdk.pollIntervalMs } : {}),
    });
    const party: Party = {
      user,
      peer,
      client,
      proxy,
      sentAt: [],
      received: [],
      sendFailures: 0,
      sendErrors: [],
      cuts: 0,
      resets: 0,
      onlineOn: {},
    };
    client.on("message", (e) => {
      if (e.message.from !== peer) return;
      party.received.push({ n: Number(e.message.text), at: Date.now() });
    });
    client.on("reset", (e) => {
      if (e.reason === "reset") party.resets++;
    });
    client.on("status", (s) => {
      if (s.state === "online" && s.transport)
        party.onlineOn[s.transport] = (party.onlineOn[s.transport] ?? 0) + 1;
    });
    parties.push(party);
  }
  await Promise.all(parties.map((p) => p.client.online()));

  const timers: NodeJS.Timeout[] = [];
  const start = Date.now();
  const stopAt = start + options.durationMs;
  for (const party of parties) {
    // Each client's cuts: the first somewhere in the first gap, then every 10-15 s.
    const scheduleCut = (at: number) => {
      if (at + options.cutMs >= stopAt) return;
      timers.push(
        setTimeout(() => {
          party.cuts++;
          party.proxy.down(options.cutMs, "reset");
          scheduleCut(Date.now() + uniform(...options.cutEveryMs));
        }, at - Date.now()),
      );
    };
    scheduleCut(start + uniform(1_000, Math.min(options.cutEveryMs[0], options.durationMs / 2)));
    // Numbered sends every intervalMs, through the SDK whatever its state.
    const send = () => {
      const n = party.sentAt.length;
      party.sentAt.push(Date.now());
      party.client.send({ to: party.peer, text: String(n) }).catch((err: unknown) => {
        party.sendFailures++;
        const what =
          err instanceof Error
            ? `${(err as { code?: string }).code ?? err.name}: ${err.message}`
            : String(err);
        if (party.sendErrors.length < 5 && !party.sendErrors.includes(what)) party.sendErrors.push(what);
      });
    };
    timers.push(
      setTimeout(() => {
        send();
        const every = setInterval(() => {
          if (Date.now() >= stopAt) clearInterval(every);
          else send();
        }, options.intervalMs);
        timers.push(every);
      }, Math.random() * options.intervalMs),
    );
  }
  await sleep(stopAt - Date.now() + options.intervalMs);
  for (const t of timers) clearTimeout(t);
  const byUser = new Map(parties.map((p) => [p.user, p]));
  const complete = () => parties.every((p) => p.received.length >= byUser.get(p.peer)!.sentAt.length);
  const drainEnd = Date.now() + options.drainMs;
  while (!complete() && Date.now() < drainEnd) await sleep(50);

  // Stored exactly once? Each pair's conversation, from its first user's side.
  let storedDuplicates = 0;
  for (const party of parties) {
    if (party.user > party.peer) continue;
    const messages = await history(server.url, await mintToken(server, party.user), party.peer);
    const seen = new Set<string>();
    for (const m of messages) {
      const key = `${m.from}:${m.text}`;
      if (seen.has(key)) storedDuplicates++;
      seen.add(key);
    }
  }

  let sent = 0;
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  const latencies: number[] = [];
  for (const party of parties) {
    const sender = byUser.get(party.peer)!;
    sent += sender.sentAt.length;
    const seen = new Set<number>();
    let last = -1;
    for (const { n, at } of party.received) {
      if (seen.has(n)) {
        duplicates++;
        continue;
      }
      if (n !== last + 1) outOfOrder++;
      last = n;
      seen.add(n);
      const sentAt = sender.sentAt[n];
      if (sentAt !== undefined) latencies.push(at - sentAt);
    }
    delivered += seen.size;
  }
  latencies.sort((a, b) => a - b);
  const onlineOn: Record<string, number> = {};
  for (const p of parties)
    for (const [t, n] of Object.entries(p.onlineOn)) onlineOn[t] = (onlineOn[t] ?? 0) + n;
  for (const p of parties) p.client.close();
  await Promise.all(parties.map((p) => p.proxy.close()));
  return {
    transport,
    users: options.users,
    sent,
    delivered,
    deliveredPct: sent === 0 ? 0 : (100 * delivered) / sent,
    duplicates,
    outOfOrder,
    storedDuplicates,
    sendFailures: parties.reduce((s, p) => s + p.sendFailures, 0),
    sendErrors: [...new Set(parties.flatMap((p) => p.sendErrors))].slice(0, 5),
    cuts: parties.reduce((s, p) => s + p.cuts, 0),
    resets: parties.reduce((s, p) => s + p.resets, 0),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    longestCatchUpMs: latencies.at(-1) ?? 0,
    onlineOn,
  };
}

/** Runs the workload against a running duet (its URL, port and server API key). */
export async function runJitter(
  server: { url: string; apiKey: string; port: number },
  options: Partial<JitterOptions> = {},
): Promise<JitterRow[]> {
  const o: JitterOptions = { ...JITTER_DEFAULTS, ...options };
  if (o.users < 2 || o.users % 2 !== 0) throw new Error("users must be an even number ≥ 2");
  const tag = Date.now().toString(36);
  if (o.concurrent) return Promise.all(o.transports.map((t) => runOne(server, t, o, tag)));
  const rows: JitterRow[] = [];
  for (const t of o.transports) {
    o.log?.(`jitter: ${t}, ${o.users} users, ${o.durationMs / 1000} s ...`);
    rows.push(await runOne(server, t, o, tag));
  }
  return rows;
}

export function formatJitterTable(rows: JitterRow[]): string {
  const head = [
    "transport",
    "users",
    "sent",
    "delivered",
    "dup",
    "out of order",
    "stored twice",
    "cuts",
    "p50 ms",
    "p99 ms",
    "longest catch-up ms",
  ];
  const lines = rows.map((r) => [
    r.transport === "auto" ? `auto (${Object.keys(r.onlineOn).join("+")})` : r.transport,
    String(r.users),
    String(r.sent),
    `${r.delivered} (${r.deliveredPct.toFixed(2)}%)`,
    String(r.duplicates),
    String(r.outOfOrder),
    String(r.storedDuplicates),
    String(r.cuts),
    String(r.p50Ms),
    String(r.p99Ms),
    String(r.longestCatchUpMs),
  ]);
  const table = [head, ...lines];
  return table
    .map((cells) => `| ${cells.join(" | ")} |`)
    .join("\n")
    .replace(/\n/, `\n|${head.map(() => "---").join("|")}|\n`);
}

/**
 * The command line: `node --import tsx bench/jitter.ts [options]`, or from bench/run.ts for
 * `npm run bench -- --workload jitter [options]` by passing its argv through.
 */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      users: { type: "string", default: String(JITTER_DEFAULTS.users) },
      seconds: { type: "string", default: String(JITTER_DEFAULTS.durationMs / 1000) },
      transport: { type: "string", default: JITTER_DEFAULTS.transports.join(",") },
      concurrent: { type: "boolean", default: false },
      workload: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "Usage: node --import tsx bench/jitter.ts [--users 20] [--seconds 60] [--transport ws,sse,stream,longpoll,poll,auto] [--concurrent]",
    );
    return;
  }
  const apiKey = "jitter-bench-key-0123456789abcdef";
  const { config } = loadConfig([], {
    DUET_PORT: "0",
    DUET_HOST: "127.0.0.1",
    DUET_API_KEY: apiKey,
    DUET_JWT_SECRET: "jitter-bench-secret-0123456789abcdef",
    DUET_STORE: `sqlite:${await import("node:os").then((os) => os.tmpdir())}/duet-jitter-${process.pid}.db`,
    DUET_LOG_LEVEL: "warn",
  });
  const server = await startServer(config, createLogger(config.logLevel));
  const rows = await runJitter(
    { url: server.url, apiKey, port: server.port },
    {
      users: Number(values.users),
      durationMs: Number(values.seconds) * 1000,
      transports: (values.transport === "all"
        ? JITTER_DEFAULTS.transports
        : values.transport!.split(",")) as JitterTransport[],
      concurrent: values.concurrent,
      log: (line) => console.error(line),
    },
  );
  console.log(formatJitterTable(rows));
  console.log(`JITTER_JSON ${JSON.stringify(rows)}`);
  await server.close();
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
