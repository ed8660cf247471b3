/**
 * The load generator: one child process of the bench. It takes commands from run.ts over IPC
 * (setup, start, mark, stop, close), drives one workload at a time and answers with its counts.
 * Every check of what arrives (lost, duplicated, out of order) is made here.
 */
import { performance } from "node:perf_hooks";
import { at, sleep } from "../test/helpers/kit.js";
import {
  type BenchClient,
  type ClientContext,
  type ClientHooks,
  createClient,
  createContext,
} from "./clients.js";
import { Ledger } from "./ledger.js";
import type { Command, FlowStats, IdleJob, Job, OpenLoopJob, RelayJob, Reply } from "./protocol.js";
import { BitSet, Samples } from "./stats.js";

function reply(message: Reply): void {
  process.send?.(message);
}

const PAD = "x".repeat(4096);

/** `<seq>|<send time, ms>|xxxx…`, `bytes` long: the receiver reads both numbers back. */
function makeText(seq: number, sentAt: number, bytes: number): string {
  const head = `${seq}|${sentAt.toFixed(3)}|`;
  return head.length >= bytes ? head : head + PAD.slice(0, bytes - head.length);
}

/** One user of a pair: its connection and its window of messages in flight. */
interface UserState {
  user: string;
  peer: string;
  client: BenchClient;
  nextSeq: number;
  inflight: number;
  /** Seqs that left the window: received by the peer, or refused. A send can be both (a timeout
   * reported to the sender while the store did commit it), and leaves the window once. */
  settled: BitSet;
}

/** Opens `clients` with at most `concurrency` handshakes at once; returns the failures. */
async function connectAll(clients: BenchClient[], concurrency: number): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let client = clients[next++]; client !== undefined; client = clients[next++]) {
      try {
        await client.connect();
      } catch (err) {
        failures.push(`${client.user}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker));
  return failures;
}

/**
 * W1 and W3: users in pairs (u0↔u1, u2↔u3, …). Closed loop (W1): each user keeps `inflight`
 * messages on the way to its peer and sends the next as one arrives. Open loop (W3): a ticker
 * sends at a fixed total rate and latency counts from the scheduled send time.
 */
class Traffic implements ClientHooks {
  private readonly job: RelayJob | OpenLoopJob;
  private readonly states = new Map<string, UserState>();
  private readonly order: UserState[] = [];
  private readonly ctx: ClientContext;
  private readonly ledger: Ledger;
  private running = false;
  private measuring = false;
  private windowStart = 0;
  private ticker: NodeJS.Timeout | undefined;
  private readonly latency = new Samples();
  private delivered = 0;
  private sent = 0;
  private errors = 0;
  private deliveredAfterError = 0;
  private disconnects = 0;

  constructor(job: RelayJob | OpenLoopJob) {
    this.job = job;
    // Over WebSocket one connection carries a user's sends in order; over HTTP the server may reorder them.
    this.ledger = new Ledger(job.transport === "ws");
    this.ctx = createContext(job.endpoint, this, job.httpSockets);
    const users = job.users - (job.users % 2);
    if (users < 2) throw new Error("--users must be at least 2");
    const shard = job.shard ?? { index: 0, count: 1 };
    if (users / 2 < shard.count) throw new Error("fewer pairs than load-generator processes");
    for (let i = 0; i < users; i++) {
      // This process drives the pairs k = i >> 1 of its shard, both users of each.
      if ((i >> 1) % shard.count !== shard.index) continue;
      const user = `u${i}`;
      const state: UserState = {
        user,
        peer: `u${i ^ 1}`,
        client: createClient(this.ctx, job.transport, user),
        nextSeq: 1,
        inflight: 0,
        settled: new BitSet(),
      };
      this.states.set(user, state);
      this.order.push(state);
      if (i % 2 === 1) this.ledger.pair(`u${i - 1}`, user);
    }
  }

  async setup(): Promise<Reply> {
    const failures = await connectAll(
      this.order.map((s) => s.client),
      this.job.serial ? 1 : 200,
    );
    // HTTP sends: the keep-alive connections are opened now, not by the first sends.
    if (this.job.transport !== "ws") await this.ctx.sendPool.warm();
    return this.readyReply(this.order, failures);
  }

  /** Replaces the connections of `users` (those this process drives) with new ones, one at a time. */
  async reconnect(users: string[]): Promise<Reply> {
    const states = users.flatMap((user) => this.states.get(user) ?? []);
    for (const state of states) {
      state.client.close();
      state.client = createClient(this.ctx, this.job.transport, state.user);
    }
    const failures = await connectAll(
      states.map((s) => s.client),
      1,
    );
    return this.readyReply(states, failures);
  }

  private readyReply(states: UserState[], failures: string[]): Reply {
    const ports: [string, number][] = [];
    for (const { user, client } of states) if (client.localPort) ports.push([user, client.localPort]);
    return {
      reply: "ready",
      connected: states.length - failures.length,
      failed: failures.length,
      errorSamples: failures.slice(0, 5),
      ...(ports.length > 0 ? { ports } : {}),
    };
  }

  start(): void {
    this.running = true;
    if (this.job.kind === "w1") {
      for (const state of this.order) this.pump(state);
      return;
    }
    // This process's share of the total rate: its share of the users.
    const rate = (this.job.rate * this.order.length) / (this.job.users - (this.job.users % 2));
    const t0 = performance.now();
    let scheduled = 0;
    this.ticker = setInterval(() => {
      if (!this.running) return;
      const due = Math.floor(((performance.now() - t0) * rate) / 1000);
      while (scheduled < due) {
        const state = at(this.order, scheduled % this.order.length);
        this.sendOne(state, t0 + (scheduled * 1000) / rate);
        scheduled++;
      }
    }, 2);
  }

  mark(): void {
    this.measuring = true;
    this.windowStart = performance.now();
    this.delivered = 0;
    this.latency.reset();
  }

  async stop(drainMs: number, withSamples = false): Promise<FlowStats> {
    const windowSec = (performance.now() - this.windowStart) / 1000;
    this.measuring = false;
    this.running = false;
    if (this.ticker) clearInterval(this.ticker);
    // Wait for what is in flight while it keeps arriving: give up after `drainMs` without progress.
    const ledger = this.ledger;
    let progressAt = Date.now();
    let last = -1;
    while (this.outstanding() > 0 && Date.now() - progressAt < drainMs) {
      const done = ledger.received + this.errors;
      if (done !== last) {
        last = done;
        progressAt = Date.now();
      }
      await sleep(20);
    }
    const outstanding = this.outstanding();
    if (outstanding > 0) ledger.note(`the drain gave up with ${outstanding} messages in flight`);
    return {
      windowSec,
      delivered: this.delivered,
      sent: this.sent,
      accepted: ledger.accepted,
      unanswered: this.sent - ledger.accepted - this.errors,
      undrained: outstanding,
      received: ledger.received,
      lost: ledger.lost(),
      duplicated: ledger.duplicated,
      outOfOrder: ledger.outOfOrder,
      errors: this.errors,
      deliveredAfterError: this.deliveredAfterError,
      disconnects: this.disconnects,
      latency: this.latency.summary(),
      ...(withSamples ? { latencySamples: this.latency.values() } : {}),
      errorSamples: ledger.notes,
    };
  }

  close(): void {
    for (const state of this.order) state.client.close();
    this.ctx.sendPool.destroy();
    this.ctx.streamAgent.destroy();
  }

  /** Sends that neither failed nor arrived yet. */
  private outstanding(): number {
    let n = 0;
    for (const state of this.order) n += state.inflight;
    return n;
  }

  private pump(state: UserState): void {
    while (this.running && state.inflight < (this.job as RelayJob).inflight) {
      this.sendOne(state, performance.now());
    }
  }

  private sendOne(state: UserState, sentAt: number): void {
    const seq = state.nextSeq++;
    state.inflight++;
    this.sent++;
    state.client.send(state.peer, makeText(seq, sentAt, this.job.textBytes), seq);
    if (!state.client.acks) this.ledger.accept(state.user, seq);
  }

  // ---- ClientHooks ----

  message(to: BenchClient, from: string, text: string, id: string | null): void {
    const bar = text.indexOf("|");
    const seq = Number(text.slice(0, bar));
    if (this.ledger.receive(to.user, from, seq, id) !== "new") return;
    if (this.measuring) {
      this.delivered++;
      this.latency.add(performance.now() - Number(text.slice(bar + 1, text.indexOf("|", bar + 1))));
    }
    const sender = this.states.get(from)!;
    if (sender.settled.has(seq)) {
      this.deliveredAfterError++;
      return;
    }
    this.settle(sender, seq);
  }

  /** `seq` of `state` leaves the window; the closed loop sends the next one. */
  private settle(state: UserState, seq: number): void {
    state.settled.add(seq);
    state.inflight--;
    if (this.job.kind === "w1") this.pump(state);
  }

  accepted(from: BenchClient, ref: number): void {
    this.ledger.accept(from.user, ref);
  }

  failed(from: BenchClient, ref: number, reason: string): void {
    this.errors++;
    this.ledger.note(`${from.user}: ${reason}`);
    const state = this.states.get(from.user);
    if (!state || ref < 0 || state.settled.has(ref)) return;
    this.settle(state, ref);
  }

  streamAnomaly(at: BenchClient, detail: string): void {
    this.ledger.streamAnomaly(`${at.user}: stream ${detail}`);
  }

  dropped(client: BenchClient, reason: string): void {
    this.disconnects++;
    this.ledger.note(`${client.user} dropped: ${reason}`);
  }
}

/** W2: idle connections, one user each; only drops are counted. */
class Idle implements ClientHooks {
  private readonly job: IdleJob;
  private readonly clients: BenchClient[] = [];
  private readonly ctx: ClientContext;
  drops = 0;

  constructor(job: IdleJob) {
    this.job = job;
    // Long-polls are held for the whole measurement (the bench raises the server's cap).
    this.ctx = createContext(job.endpoint, this, 16, 600);
    const shard = job.shard ?? { index: 0, count: 1 };
    for (let i = shard.index; i < job.conns; i += shard.count) {
      this.clients.push(createClient(this.ctx, job.transport, `${job.userPrefix}${i}`));
    }
  }

  async setup(): Promise<Reply> {
    const failures = await connectAll(this.clients, this.job.concurrency);
    return {
      reply: "ready",
      connected: this.clients.length - failures.length,
      failed: failures.length,
      errorSamples: failures.slice(0, 5),
    };
  }

  close(): void {
    for (const client of this.clients) client.close();
    this.ctx.sendPool.destroy();
    this.ctx.streamAgent.destroy();
  }

  message(): void {}
  accepted(): void {}
  failed(): void {}
  streamAnomaly(): void {}
  dropped(): void {
    this.drops++;
  }
}

let current: Traffic | Idle | undefined;

async function handle(command: Command): Promise<Reply> {
  switch (command.cmd) {
    case "setup": {
      current?.close();
      const job: Job = command.job;
      current = job.kind === "w2" ? new Idle(job) : new Traffic(job);
      return current.setup();
    }
    case "reconnect":
      if (!(current instanceof Traffic)) throw new Error("reconnect without a W1/W3 job");
      return current.reconnect(command.users);
    case "start":
      if (current instanceof Traffic) current.start();
      return { reply: "ok" };
    case "mark":
      if (current instanceof Traffic) current.mark();
      return { reply: "ok" };
    case "stop":
      if (!(current instanceof Traffic)) throw new Error("stop without a running W1/W3 job");
      return { reply: "stats", stats: await current.stop(command.drainMs, command.samples) };
    case "close":
      current?.close();
      current = undefined;
      return { reply: "ok" };
    case "exit":
      current?.close();
      setImmediate(() => process.exit(0));
      return { reply: "ok" };
  }
}

// Commands are handled one at a time, in order.
let queue: Promise<void> = Promise.resolve();
process.on("message", (command: Command) => {
  queue = queue.then(() =>
    handle(command).then(reply, (err: unknown) => reply({ reply: "error", message: String(err) })),
  );
});
process.on("disconnect", () => process.exit(0));
