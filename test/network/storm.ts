/**
 * The reconnect storm (issue 7): many SDK clients online through one chaos proxy in front of a
 * duet process, all cut at once (the proxy's cutAll: RST on every connection), each sending its
 * peer a message right after the cut; they come back with the SDK's jittered backoff. Measured:
 * how long until every client is online again and every message delivered, the server's RSS and
 * CPU (from /proc), and the attempts shed with 503.
 *
 * test/network/storm.test.ts runs it with a few thousand clients; for more:
 *   node --import tsx test/network/storm.ts --clients 5000 [--proxy-process] [--max-connections N]
 *     [--transport ws] [--settle 60]
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { connect, type DuetClient, type TransportName } from "../../src/client/index.js";
import { ChaosProxy } from "../helpers/chaos-proxy.js";
import { API_KEY, type ChildDuet, spawnDuet, tempDbUrl, tokenFor } from "../helpers/duet.js";

export interface StormOptions {
  clients: number;
  /** DUET_MAX_CONNECTIONS of the server (default: clients + 10%). */
  maxConnections?: number;
  transport: TransportName;
  /** How long to wait for everyone to be back and every message delivered. */
  settleMs: number;
  /** Run the proxy in a process of its own (so it does not share a CPU with the clients). */
  proxyProcess?: boolean;
  log?: (line: string) => void;
}

export interface StormResult {
  clients: number;
  maxConnections: number;
  transport: TransportName;
  /** From the cut until every client was online again (null: not all came back in time). */
  allOnlineMs: number | null;
  /** From the cut until every message sent after it had reached its peer. */
  allDeliveredMs: number | null;
  /** Median and slowest client's time back online. */
  p50OnlineMs: number;
  maxOnlineMs: number;
  /** Messages sent right after the cut, delivered, and delivered twice. */
  sent: number;
  delivered: number;
  duplicates: number;
  /** Connection attempts the server refused with 503 overloaded during the storm. */
  shed: number;
  /** Reconnection attempts the clients made (status changes to connecting/reconnecting). */
  attempts: number;
  /** Server RSS (MB) online before the cut, at its peak during the storm, and when settled. */
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  /** Server CPU seconds from the cut until settled, and that span in seconds. */
  cpuSeconds: number;
  spanSeconds: number;
  /** Connections the server counted when settled. */
  serverConnections: number;
}

interface Party {
  user: string;
  peer: string;
  client: DuetClient;
  received: Map<string, number>;
  backAt: number | null;
  attempts: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICKS = 100; // USER_HZ on Linux

function procStats(pid: number): { rssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS;
  return { rssMb: Math.round(rssKb / 1024), cpuSeconds: cpu };
}

async function overloadedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("duet_errors_total{") && l.includes('code="overloaded"'));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

async function serverConnections(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/admin/stats`, { headers: { authorization: `Bearer ${API_KEY}` } });
  const body = (await res.json()) as { connections: Record<string, number> };
  return Object.values(body.connections).reduce((a, b) => a + b, 0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** The chaos proxy in a child process: the same `url`, `cutAll` and `close`. */
async function proxyProcess(
  target: number,
): Promise<{ url: string; cutAll(): void; close(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", fileURLToPath(new URL("./chaos-proxy-process.ts", import.meta.url)), String(target)],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once("line", (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`proxy process exited (${code})`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    cutAll: () => child.stdin!.write("cutAll\n"),
    close: async () => {
      child.stdin!.end();
      await Promise.race([exited, sleep(5_000).then(() => child.kill("SIGKILL"))]);
    },
  };
}

/** Runs one storm against its own duet process and proxy; cleans up after itself. */
export async function runStorm(options: StormOptions): Promise<StormResult> {
  const log = options.log ?? (() => {});
  const maxConnections = options.maxConnections ?? Math.ceil(options.clients * 1.1);
  const duet: ChildDuet = await spawnDuet({
    DUET_STORE: tempDbUrl(),
    DUET_MAX_CONNECTIONS: String(maxConnections),
    DUET_LOG_LEVEL: "info",
  });
  const port = Number(new URL(duet.url).port);
  const pid = duet.proc.pid!;
  const proxy = options.proxyProcess
    ? await proxyProcess(port)
    : await ChaosProxy.start({ target: { port } });
  const parties: Party[] = [];
  try {
    // Connect in batches, so the set-up is not itself a storm.
    const batch = 250;
    for (let i = 0; i < options.clients; i += batch) {
      const group: Party[] = [];
      for (let j = i; j < Math.min(options.clients, i + batch); j++) {
        const party: Party = {
          user: `storm-${j}`,
          peer: `storm-${j ^ 1}`,
          client: connect({
            url: proxy.url,
            token: await tokenFor(`storm-${j}`),
            WebSocket: WebSocket as never,
            transports: [options.transport],
          }),
          received: new Map(),
          backAt: null,
          attempts: 0,
        };
        party.client.on("message", (e) => {
          if (e.message.from !== party.peer || typeof e.message.text !== "string") return;
          party.received.set(e.message.text, (party.received.get(e.message.text) ?? 0) + 1);
        });
        group.push(party);
      }
      await Promise.all(group.map((p) => p.client.online()));
      parties.push(...group);
      log(`storm: ${parties.length} online`);
    }
    if (options.clients % 2 === 1) throw new Error("clients must be even (users in pairs)");
    await sleep(500);
    const before = procStats(pid);
    const shedBefore = await overloadedCount(duet.url);

    // The storm: every connection reset at once; each user sends its peer one message at once.
    const t0 = Date.now();
    for (const p of parties) {
      p.client.on("status", (s) => {
        if (s.state === "connecting" || s.state === "reconnecting") {
          if (s.retryInMs === undefined) p.attempts++;
        } else if (s.state === "online" && p.backAt === null) p.backAt = Date.now();
      });
    }
    proxy.cutAll();
    for (const p of parties) void p.client.send({ to: p.peer, text: `after-cut:${p.user}` }).catch(() => {});

    let peak = before.rssMb;
    let allOnlineMs: number | null = null;
    let allDeliveredMs: number | null = null;
    const deadline = t0 + options.settleMs;
    while (Date.now() < deadline) {
      peak = Math.max(peak, procStats(pid).rssMb);
      if (allOnlineMs === null && parties.every((p) => p.backAt !== null)) {
        allOnlineMs = Math.max(...parties.map((p) => p.backAt!)) - t0;
        log(`storm: all ${parties.length} online again after ${allOnlineMs} ms`);
      }
      if (allDeliveredMs === null && parties.every((p) => p.received.has(`after-cut:${p.peer}`))) {
        allDeliveredMs = Date.now() - t0;
        log(`storm: every message delivered after ${allDeliveredMs} ms`);
      }
      if (allOnlineMs !== null && allDeliveredMs !== null) break;
      await sleep(100);
    }
    await sleep(1_000); // let duplicates, if any, show up
    const after = procStats(pid);
    const back = parties.filter((p) => p.backAt !== null).map((p) => p.backAt! - t0);
    let delivered = 0;
    let duplicates = 0;
    for (const p of parties) {
      const n = p.received.get(`after-cut:${p.peer}`) ?? 0;
      if (n > 0) delivered++;
      duplicates += Math.max(0, n - 1);
    }
    return {
      clients: options.clients,
      maxConnections,
      transport: options.transport,
      allOnlineMs,
      allDeliveredMs,
      p50OnlineMs: median(back),
      maxOnlineMs: back.length ? Math.max(...back) : 0,
      sent: parties.length,
      delivered,
      duplicates,
      shed: (await overloadedCount(duet.url)) - shedBefore,
      attempts: parties.reduce((s, p) => s + p.attempts, 0),
      rssBeforeMb: before.rssMb,
      rssPeakMb: peak,
      rssAfterMb: after.rssMb,
      cpuSeconds: Math.round((after.cpuSeconds - before.cpuSeconds) * 100) / 100,
      spanSeconds: Math.round((Date.now() - t0) / 100) / 10,
      serverConnections: await serverConnections(duet.url),
    };
  } finally {
    for (const p of parties) p.client.close();
    await proxy.close();
    await duet.kill("SIGKILL");
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: "string", default: "2000" },
      "max-connections": { type: "string" },
      transport: { type: "string", default: "ws" },
      settle: { type: "string", default: "60" },
      "proxy-process": { type: "boolean", default: false },
    },
    strict: true,
  });
  const result = await runStorm({
    clients: Number(values.clients),
    ...(values["max-connections"] ? { maxConnections: Number(values["max-connections"]) } : {}),
    transport: values.transport as TransportName,
    settleMs: Number(values.settle) * 1000,
    proxyProcess: values["proxy-process"],
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify(result, null, 2));
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
