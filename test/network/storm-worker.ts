/**
 * One process of the reconnect-storm load generator (test/network/storm.ts starts several and
 * talks to them over IPC). It owns a share of the SDK clients (src/client over real `ws`
 * sockets, and each client its own fetch), connects them, and at the instant the parent names
 * resets every TCP connection they have (RST, as a dropped network or a proxy's reset looks to
 * the server). Each user then sends its peer one message through the SDK at once, connected or
 * not, and the clients come back on their own with the SDK's jittered backoff. It reports when
 * each client was online again and when each expected message arrived.
 */
import { type NetConnectOpts, connect as netConnect, type Socket } from "node:net";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";
import WebSocket from "ws";
import { connect, type DuetClient, type TransportName } from "../../src/client/index.js";
import { tokenFor } from "../helpers/duet.js";

export type ToWorker =
  | {
      type: "start";
      url: string;
      users: number[];
      transport: TransportName;
      batch: number;
      /** The SDK's connectTimeoutMs, when not its default. */
      connectTimeoutMs?: number;
    }
  /** Each user sends its peer one message, so every client has received one before the cut. */
  | { type: "warm" }
  | { type: "cut"; at: number }
  | { type: "report" }
  | { type: "close" };

export interface WorkerReport {
  /** When this worker actually reset its sockets (epoch ms) and how many it reset. */
  cutAt: number;
  reset: number;
  /** Per client, epoch ms when it was online again after the cut (null: not yet). */
  backAt: (number | null)[];
  /** Per client, epoch ms when its peer's message arrived (null: not yet). */
  deliveredAt: (number | null)[];
  duplicates: number;
  /** Connection attempts after the cut (status changes to connecting/reconnecting). */
  attempts: number;
  /** Sends the SDK finally rejected (it should retry until delivered: expected 0). */
  failedSends: number;
  /** Socket.IO only: reconnections its connection state recovery restored (`socket.recovered`). */
  recovered?: number;
}

export type FromWorker =
  | { type: "online"; count: number }
  | { type: "ready"; count: number }
  | { type: "warmed" }
  | { type: "complete" }
  | { type: "progress"; back: number; delivered: number }
  | { type: "report"; report: WorkerReport }
  | { type: "error"; message: string };

/** Every socket of this process's WebSocket clients, so the cut can reset them all at once. */
const sockets = new Set<Socket>();

const trackedConnect = ((options: NetConnectOpts) => {
  const socket = netConnect(options);
  sockets.add(socket);
  socket.once("close", () => sockets.delete(socket));
  return socket;
}) as typeof netConnect;

/** undici's own connector, its sockets tracked the same way. */
const connector = buildConnector({});
const trackedConnector: buildConnector.connector = (options, callback) => {
  connector(options, (...args) => {
    const socket = args[1];
    if (socket) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    }
    callback(...args);
  });
};

/**
 * A fetch of one client's own (its own connection pool, as on a device of its own), whose
 * connections the cut resets too: the streams of SSE and NDJSON, long-polls, sends over HTTP.
 */
function trackedFetch(): typeof fetch {
  const dispatcher = new Agent({ connect: trackedConnector });
  return ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
}

/** The `ws` client, its TCP connections tracked (`createConnection` is a ws client option). */
class TrackedWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { createConnection: trackedConnect });
  }
}

interface Party {
  user: string;
  peer: string;
  client: DuetClient;
  warmed: boolean;
  received: number;
  backAt: number | null;
  deliveredAt: number | null;
}

/** To the parent; once it is gone, nothing (the disconnect handler ends this process). */
const send = (message: FromWorker) => {
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
};
const parties: Party[] = [];
let cutAt = 0;
let reset = 0;
let attempts = 0;
let duplicates = 0;
let failedSends = 0;
let cut = false;
let completeSent = false;
let backCount = 0;
let deliveredCount = 0;
let warming = false;
let warmedCount = 0;

function checkWarm(): void {
  if (warming && warmedCount === parties.length) {
    warming = false;
    send({ type: "warmed" });
  }
}

function checkComplete(): void {
  if (completeSent || !cut) return;
  if (backCount === parties.length && deliveredCount === parties.length) {
    completeSent = true;
    send({ type: "complete" });
  }
}

async function start(msg: Extract<ToWorker, { type: "start" }>): Promise<void> {
  // Connect in batches, so the set-up is not itself a storm.
  for (let i = 0; i < msg.users.length; i += msg.batch) {
    const group: Party[] = [];
    for (const j of msg.users.slice(i, i + msg.batch)) {
      const party: Party = {
        user: `storm-${j}`,
        peer: `storm-${j ^ 1}`,
        client: connect({
          url: msg.url,
          token: await tokenFor(`storm-${j}`),
          WebSocket: TrackedWebSocket as never,
          fetch: trackedFetch(),
          transports: [msg.transport],
          ...(msg.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: msg.connectTimeoutMs }),
        }),
        warmed: false,
        received: 0,
        backAt: null,
        deliveredAt: null,
      };
      const before = `before-cut:${party.peer}`;
      const expected = `after-cut:${party.peer}`;
      party.client.on("message", (e) => {
        if (e.message.from !== party.peer) return;
        if (e.message.text === before && !party.warmed) {
          party.warmed = true;
          warmedCount++;
          checkWarm();
          return;
        }
        if (e.message.text !== expected) return;
        party.received++;
        if (party.received > 1) duplicates++;
        else {
          party.deliveredAt = Date.now();
          deliveredCount++;
          checkComplete();
        }
      });
      party.client.on("status", (s) => {
        if (!cut) return;
        if (s.state === "connecting" || s.state === "reconnecting") {
          if (s.retryInMs === undefined) attempts++;
        } else if (s.state === "online" && party.backAt === null) {
          party.backAt = Date.now();
          backCount++;
          checkComplete();
        }
      });
      group.push(party);
    }
    await Promise.all(group.map((p) => p.client.online()));
    parties.push(...group);
    send({ type: "online", count: parties.length });
  }
  send({ type: "ready", count: parties.length });
}

/** Each user sends its peer a message before the cut (the clients resume after it). */
function warm(): void {
  warming = true;
  for (const p of parties) {
    p.client.send({ to: p.peer, text: `before-cut:${p.user}` }).catch((err: unknown) => {
      send({ type: "error", message: `warm-up send: ${String(err)}` });
    });
  }
  checkWarm();
}

/** The storm: every connection reset at once; each user sends its peer one message at once. */
function doCut(): void {
  cut = true;
  cutAt = Date.now();
  reset = sockets.size;
  for (const socket of [...sockets]) socket.resetAndDestroy();
  const progress = setInterval(() => {
    send({ type: "progress", back: backCount, delivered: deliveredCount });
    if (completeSent) clearInterval(progress);
  }, 1_000);
  for (const p of parties) {
    p.client.send({ to: p.peer, text: `after-cut:${p.user}` }).catch(() => {
      failedSends++;
    });
  }
}

function report(): WorkerReport {
  return {
    cutAt,
    reset,
    backAt: parties.map((p) => p.backAt),
    deliveredAt: parties.map((p) => p.deliveredAt),
    duplicates,
    attempts,
    failedSends,
  };
}

process.on("message", (raw) => {
  const msg = raw as ToWorker;
  switch (msg.type) {
    case "start":
      start(msg).catch((err: unknown) => send({ type: "error", message: String(err) }));
      break;
    case "warm":
      warm();
      break;
    case "cut":
      setTimeout(doCut, Math.max(0, msg.at - Date.now()));
      break;
    case "report":
      send({ type: "report", report: report() });
      break;
    case "close":
      for (const p of parties) p.client.close();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 100).unref();
      break;
  }
});
process.on("disconnect", () => process.exit(0));
