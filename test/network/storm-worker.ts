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
import { StormTally, serveParent, type Tallied, toParent } from "./storm-tally.js";

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

interface Party extends Tallied {
  client: DuetClient;
}

const tally = new StormTally<Party>();

const trackedConnect = ((options: NetConnectOpts) => tally.track(netConnect(options))) as typeof netConnect;

/** undici's own connector, its sockets tracked the same way. */
const connector = buildConnector({});
const trackedConnector: buildConnector.connector = (options, callback) => {
  connector(options, (...args) => {
    const socket = args[1];
    if (socket) tally.track(socket as Socket);
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
      party.client.on("message", (e) => {
        if (e.message.from === party.peer) tally.received(party, e.message.text);
      });
      party.client.on("status", (s) => {
        if (s.state === "connecting" || s.state === "reconnecting") {
          if (s.retryInMs === undefined) tally.attempt();
        } else if (s.state === "online") tally.back(party);
      });
      group.push(party);
    }
    await Promise.all(group.map((p) => p.client.online()));
    tally.parties.push(...group);
    toParent({ type: "online", count: tally.parties.length });
  }
  toParent({ type: "ready", count: tally.parties.length });
}

serveParent({
  start,
  /** Each user sends its peer a message before the cut (the clients resume after it). */
  warm() {
    tally.warm();
    for (const p of tally.parties) {
      p.client.send({ to: p.peer, text: `before-cut:${p.user}` }).catch((err: unknown) => {
        toParent({ type: "error", message: `warm-up send: ${String(err)}` });
      });
    }
  },
  /** The storm: every connection reset at once; each user sends its peer one message at once. */
  cut() {
    tally.resetAll();
    for (const p of tally.parties) {
      p.client.send({ to: p.peer, text: `after-cut:${p.user}` }).catch(() => {
        tally.failedSends++;
      });
    }
  },
  report: () => tally.report(),
  close() {
    for (const p of tally.parties) p.client.close();
  },
});
