/**
 * A TCP proxy on 127.0.0.1 that makes a bad network out of loopback, in user space (these
 * machines have no netem): added latency, a bandwidth cap, random resets, silent black-holing
 * (half-open: bytes stop both ways, no FIN, no RST), pause/resume, and outages that cut every
 * connection and refuse or hold new ones. Every fault applies per connection (`ChaosLink`) or to
 * all of them at once (`ChaosProxy`).
 *
 * What a user-space proxy cannot fake: the kernel on each side still ACKs what it receives, so TCP
 * keep-alives and retransmission timers never fire; a black-holed sender only notices once the
 * socket buffers between it and the proxy are full. Heartbeats above TCP are what detect it here,
 * which is what the tests are about.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export interface Impairment {
  /** Added one-way delay in each direction, in ms. Order is kept. */
  latencyMs?: number;
  /** Bytes per second in each direction; 0 or undefined for no cap. */
  bytesPerSecond?: number;
  /** Chance, per chunk relayed, that the connection is reset (RST on both sides). */
  resetChance?: number;
}

/** What happens to a connection attempt while the proxy is down. */
export type OutageMode =
  /** Accepted and reset at once: the client sees ECONNRESET, as on a network that answers. */
  | "reset"
  /** Accepted and held silent until the outage ends, then connected: a SYN retransmitted late. */
  | "hold";

type LinkState = "open" | "paused" | "blackholed" | "closed";

/** Chunks above this many bytes queued in one direction stop the proxy reading its source. */
const HIGH_WATER = 256 * 1024;

/** One direction of a link: source socket → delay/bandwidth queue → destination socket. */
class Lane {
  private readonly queue: { data: Buffer; at: number }[] = [];
  private queued = 0;
  private lastAt = 0;
  /** When the bandwidth cap next lets a byte through. */
  private freeAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private ended = false;
  bytes = 0;

  constructor(
    private readonly link: ChaosLink,
    private readonly source: Socket,
    private readonly dest: Socket,
  ) {
    source.on("data", (data: Buffer) => this.take(data));
    source.on("end", () => {
      this.ended = true;
      this.pump();
    });
    dest.on("drain", () => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  private take(data: Buffer): void {
    const state = this.link.state;
    if (state === "blackholed" || state === "closed") return;
    const at = Math.max(Date.now() + (this.link.impairment.latencyMs ?? 0), this.lastAt);
    this.lastAt = at;
    this.queue.push({ data, at });
    this.queued += data.length;
    if (this.queued > HIGH_WATER) this.source.pause();
    this.pump();
  }

  /** Relays what is due, within the bandwidth cap; re-arms its timer for the rest. */
  pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.link.state !== "open" || this.waitingDrain) return;
    const bps = this.link.impairment.bytesPerSecond ?? 0;
    while (this.queue.length > 0) {
      const now = Date.now();
      const head = this.queue[0]!;
      const wait = Math.max(head.at, bps > 0 ? this.freeAt : 0) - now;
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      let data = head.data;
      if (bps > 0) {
        // At most 50 ms worth at a time, so a capped link trickles instead of bursting.
        const slice = Math.max(1, Math.floor(bps / 20));
        if (data.length > slice) {
          head.data = data.subarray(slice);
          data = data.subarray(0, slice);
        } else this.queue.shift();
        this.freeAt = Math.max(now, this.freeAt) + (data.length * 1000) / bps;
      } else this.queue.shift();
      this.queued -= data.length;
      this.bytes += data.length;
      if (this.queued <= HIGH_WATER && this.link.state === "open") this.source.resume();
      const chance = this.link.impairment.resetChance ?? 0;
      if (chance > 0 && Math.random() < chance) {
        this.link.reset();
        return;
      }
      if (!this.dest.write(data)) {
        this.waitingDrain = true;
        return;
      }
    }
    if (this.ended && !this.dest.writableEnded) this.dest.end();
  }

  /** Drops everything queued (a black hole swallows what was in flight too). */
  drop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queued = 0;
  }

  hold(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** One client connection and its upstream connection, with the faults applied to it. */
export class ChaosLink {
  readonly id: number;
  readonly client: Socket;
  readonly upstream: Socket;
  state: LinkState = "open";
  impairment: Impairment;
  /** Set once that side's socket has closed (behind a black hole, the other side never hears). */
  upstreamGone = false;
  clientGone = false;
  private readonly up: Lane;
  private readonly down: Lane;
  private readonly onClose: (link: ChaosLink) => void;
  private finished = false;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    id: number,
    client: Socket,
    upstream: Socket,
    impairment: Impairment,
    onClose: (link: ChaosLink) => void,
  ) {
    this.id = id;
    this.client = client;
    this.upstream = upstream;
    this.impairment = { ...impairment };
    this.onClose = onClose;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.up = new Lane(this, client, upstream);
    this.down = new Lane(this, upstream, client);
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on("error", () => {});
      socket.on("close", (hadError) => {
        if (socket === upstream) this.upstreamGone = true;
        else this.clientGone = true;
        // Nothing crosses a black hole, not even the news that one side is gone.
        if (this.state === "blackholed") {
          if (this.clientGone && this.upstreamGone) this.finish();
          return;
        }
        // An error (RST) is passed on as a reset; a clean end was passed on by the lane, in order.
        if (hadError && !other.destroyed) other.resetAndDestroy();
        if (client.destroyed && upstream.destroyed) this.finish();
      });
    }
  }

  /** Bytes relayed so far, client → server and server → client. */
  get bytes(): { up: number; down: number } {
    return { up: this.up.bytes, down: this.down.bytes };
  }

  impair(impairment: Impairment): void {
    this.impairment = { ...this.impairment, ...impairment };
  }

  /** Stops relaying both ways; what arrives meanwhile is kept and delivered on `resume`. */
  pause(): void {
    if (this.state !== "open") return;
    this.state = "paused";
    this.client.pause();
    this.upstream.pause();
    this.up.hold();
    this.down.hold();
  }

  resume(): void {
    if (this.state !== "paused") return;
    this.state = "open";
    this.client.resume();
    this.upstream.resume();
    this.up.pump();
    this.down.pump();
  }

  /**
   * Half-open: from now on nothing crosses, in either direction, and neither side is told (no
   * FIN, no RST). The proxy stops reading, so each sender's socket buffers fill as they would
   * behind a dead radio link. Permanent: only `reset` or the proxy closing ends it.
   */
  blackhole(): void {
    if (this.state === "closed" || this.state === "blackholed") return;
    this.state = "blackholed";
    this.client.pause();
    this.upstream.pause();
    this.up.drop();
    this.down.drop();
  }

  /** Resets both sides (RST), as a network that drops a connection does. */
  reset(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.up.drop();
    this.down.drop();
    this.client.resetAndDestroy();
    this.upstream.resetAndDestroy();
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.state = "closed";
    if (!this.client.destroyed) this.client.destroy();
    if (!this.upstream.destroyed) this.upstream.destroy();
    this.onClose(this);
    this.resolveClosed();
  }
}

export interface ChaosProxyOptions extends Impairment {
  /** Where connections go; host defaults to 127.0.0.1. */
  target: { port: number; host?: string };
}

/** A listening chaos proxy. `url` is its http:// address for HTTP clients. */
export class ChaosProxy {
  readonly port: number;
  readonly links = new Set<ChaosLink>();
  /** Connections accepted since start (including those refused during an outage). */
  accepted = 0;
  private readonly server: Server;
  private readonly target: { port: number; host: string };
  private impairment: Impairment;
  private nextId = 1;
  private downUntil = 0;
  private outage: OutageMode = "reset";
  private outageTimer: NodeJS.Timeout | undefined;
  private readonly held: Socket[] = [];

  private constructor(server: Server, port: number, options: ChaosProxyOptions) {
    this.server = server;
    this.port = port;
    this.target = { port: options.target.port, host: options.target.host ?? "127.0.0.1" };
    const { target: _target, ...impairment } = options;
    this.impairment = impairment;
    server.on("connection", (socket) => this.accept(socket));
  }

  static async start(options: ChaosProxyOptions): Promise<ChaosProxy> {
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // A deep accept queue: a reconnect storm must not lose SYNs here rather than at the server.
      server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("proxy has no port");
    return new ChaosProxy(server, address.port, options);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isDown(): boolean {
    return Date.now() < this.downUntil;
  }

  /** Changes the impairment of every open link and of links opened from now on. */
  impair(impairment: Impairment): void {
    this.impairment = { ...this.impairment, ...impairment };
    for (const link of this.links) link.impair(impairment);
  }

  private accept(socket: Socket): void {
    this.accepted++;
    socket.on("error", () => {});
    if (this.isDown) {
      if (this.outage === "reset") socket.resetAndDestroy();
      else this.held.push(socket);
      return;
    }
    this.open(socket);
  }

  private open(client: Socket): void {
    if (client.destroyed) return;
    const upstream = tcpConnect(this.target.port, this.target.host);
    const link = new ChaosLink(this.nextId++, client, upstream, this.impairment, (l) => this.links.delete(l));
    this.links.add(link);
    client.resume();
  }

  /** Resets every open link (RST both sides). */
  cutAll(): void {
    for (const link of [...this.links]) link.reset();
  }

  /**
   * An outage of `ms`: every open link is reset and, until it ends, new connections are reset
   * (`reset`) or held silent and connected when it ends (`hold`).
   */
  down(ms: number, mode: OutageMode = "reset"): void {
    this.downUntil = Math.max(this.downUntil, Date.now() + ms);
    this.outage = mode;
    this.cutAll();
    if (this.outageTimer) clearTimeout(this.outageTimer);
    this.outageTimer = setTimeout(() => this.up(), this.downUntil - Date.now());
  }

  /** Ends an outage now; held connection attempts go through. */
  up(): void {
    this.downUntil = 0;
    if (this.outageTimer) clearTimeout(this.outageTimer);
    this.outageTimer = undefined;
    for (const socket of this.held.splice(0)) this.open(socket);
  }

  blackholeAll(): void {
    for (const link of this.links) link.blackhole();
  }

  pauseAll(): void {
    for (const link of this.links) link.pause();
  }

  resumeAll(): void {
    for (const link of this.links) link.resume();
  }

  /** Stops listening and destroys every link. */
  async close(): Promise<void> {
    if (this.outageTimer) clearTimeout(this.outageTimer);
    for (const socket of this.held.splice(0)) socket.destroy();
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const link of [...this.links]) link.reset();
    await closing;
  }
}
