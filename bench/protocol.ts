/** What the bench orchestrator (run.ts) and its load generator (loadgen.ts) say to each other over IPC. */

/** The server under test: duet, or the minimal Socket.IO relay it is compared with. */
export type Target = "duet" | "socketio";

/** How clients receive; W1/W3 send over the WebSocket for `ws` and over HTTP POST otherwise. */
export type Transport = "ws" | "sse" | "stream" | "longpoll";

export const TRANSPORTS: readonly Transport[] = ["ws", "sse", "stream", "longpoll"];

export interface Endpoint {
  target: Target;
  /** http://127.0.0.1:<port> */
  url: string;
  /** HS256 secret the load generator signs user tokens with. */
  secret: string;
}

/**
 * Which part of a job one load-generator process drives, when several share it (--loadgen-procs):
 * W1/W3 pairs `k` with `k % count === index` (a user and its peer always in the same process) and
 * that share of the W3 rate; W2 the connections `i` with `i % count === index`.
 */
export interface Shard {
  index: number;
  count: number;
}

/** W1: users in pairs, each keeps `inflight` messages in flight to its peer (closed loop). */
export interface RelayJob {
  kind: "w1";
  endpoint: Endpoint;
  transport: Transport;
  users: number;
  inflight: number;
  textBytes: number;
  /** Keep-alive sockets the HTTP sender may open (HTTP transports), per load-generator process. */
  httpSockets: number;
  shard?: Shard;
  /** Connect one user at a time, in user order (see `serial` in loadgen-pool.ts). */
  serial?: boolean;
}

/** W3: users in pairs, a fixed total send rate whatever the latency (open loop). */
export interface OpenLoopJob {
  kind: "w3";
  endpoint: Endpoint;
  transport: Transport;
  users: number;
  /** Messages per second over all the load-generator processes. */
  rate: number;
  textBytes: number;
  httpSockets: number;
  shard?: Shard;
  serial?: boolean;
}

/** W2: `conns` idle authenticated connections, one user each. */
export interface IdleJob {
  kind: "w2";
  endpoint: Endpoint;
  transport: Transport;
  conns: number;
  /** Connections being opened at once. */
  concurrency: number;
  /** Prefix of the user ids, so a warm-up round and the measured round do not share users. */
  userPrefix: string;
  shard?: Shard;
}

export type Job = RelayJob | OpenLoopJob | IdleJob;

/** Orchestrator to load generator. */
export type Command =
  | { cmd: "setup"; job: Job }
  /** Before the start: open these users' connections again, one at a time (a user whose peer
   * landed on the same server process); answered with a ready reply for them. */
  | { cmd: "reconnect"; users: string[] }
  /** Start sending (the warm-up begins). */
  | { cmd: "start" }
  /** The measured window begins: counters restart. */
  | { cmd: "mark" }
  /** The measured window ends: stop sending, wait for messages in flight (until `drainMs` pass
   * without one arriving), report; with `samples`, every latency sample too. */
  | { cmd: "stop"; drainMs: number; samples?: boolean }
  /** Close every connection of the job. */
  | { cmd: "close" }
  | { cmd: "exit" };

export interface LatencySummary {
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  mean: number;
  samples: number;
}

export interface FlowStats {
  /** Length of the measured window as the load generator saw it, in seconds. */
  windowSec: number;
  /** Messages received by their recipient inside the measured window. */
  delivered: number;
  /** Sends over the whole run (warm-up, window and drain). */
  sent: number;
  /** Sends the server confirmed (a WebSocket `result`, a 201; Socket.IO has no ack: every send). */
  accepted: number;
  /** Sends the server had neither confirmed nor refused at the end (HTTP requests still queued, ...). */
  unanswered: number;
  /** Messages still in flight when the drain gave up (0 when everything arrived). */
  undrained: number;
  /** Distinct messages received by their recipient over the whole run. */
  received: number;
  /** Accepted and never received, after the drain. */
  lost: number;
  /** Received more than once. */
  duplicated: number;
  /** Received against the sender's order, or a gap/regression of the recipient stream's seq. */
  outOfOrder: number;
  /** Sends the server refused or that failed on the wire. */
  errors: number;
  /** Sends the server reported as failed that reached the peer all the same (stored after a timeout). */
  deliveredAfterError: number;
  /** Connections that dropped during the run. */
  disconnects: number;
  latency: LatencySummary;
  /** Every latency sample of the window (ms), when the stop asked for them (to merge processes). */
  latencySamples?: Float64Array;
  /** A few error texts, for the report. */
  errorSamples: string[];
}

/** Load generator to orchestrator. */
export type Reply =
  | {
      reply: "ready";
      connected: number;
      failed: number;
      errorSamples: string[];
      /** The client-side TCP port of each user's WebSocket (where the server can be asked which process holds it). */
      ports?: [string, number][];
    }
  | { reply: "stats"; stats: FlowStats }
  /** Answer to start, mark and close. */
  | { reply: "ok" }
  | { reply: "error"; message: string };
