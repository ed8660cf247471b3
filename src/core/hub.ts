import type { Broker, BrokerMessage } from "./broker.js";
import type { PresenceRegistry } from "./presence.js";
import type { Sink, TransportKind } from "./stream.js";

/** Anything the hub delivers a user's events to: an EventStream, or a held long-poll. */
export interface Listener {
  readonly user: string;
  readonly sink: Sink;
  push(json: string, seq: number | null): void;
  /** Reads the store again: live publications may have been lost (the broker reconnected). */
  resync(): void;
  stop(): void;
}

export interface HubOptions {
  maxConnectionsPerUser: number;
  /** Sweep intervals per kind: WebSocket pings, stream keep-alives. */
  heartbeatMs: Partial<Record<TransportKind, number>>;
}

/**
 * The registry of this process's connections, by user. It delivers every event to the local
 * connections of its user and hands it to the broker for the other processes. One shared sweep
 * per transport kind drives heartbeats: connections own no timers.
 */
export class Hub {
  private readonly users = new Map<string, Set<Listener>>();
  private readonly byKind: Record<TransportKind, Set<Listener>> = {
    ws: new Set(),
    sse: new Set(),
    stream: new Set(),
    poll: new Set(),
  };
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly broker: Broker;
  private readonly presence: PresenceRegistry;
  private readonly options: HubOptions;
  /**
   * Called on each local delivery of a stored event to `count` connections, for the delivery
   * metrics; `sentAt` is when a message was accepted, when the publication carries it.
   */
  onDeliver: (count: number, sentAt?: number) => void = () => {};

  constructor(broker: Broker, presence: PresenceRegistry, options: HubOptions) {
    this.broker = broker;
    this.presence = presence;
    this.options = options;
    broker.onMessage((user, message) => this.deliverLocal(user, message));
    broker.onResync?.(() => {
      for (const listener of this.all()) listener.resync();
    });
    for (const [kind, ms] of Object.entries(options.heartbeatMs)) {
      const timer = setInterval(() => this.sweep(kind as TransportKind), ms);
      timer.unref();
      this.timers.push(timer);
    }
  }

  get connectionCount(): number {
    const k = this.byKind;
    return k.ws.size + k.sse.size + k.stream.size + k.poll.size;
  }

  connectionsByTransport(): Record<TransportKind, number> {
    const k = this.byKind;
    return { ws: k.ws.size, sse: k.sse.size, stream: k.stream.size, poll: k.poll.size };
  }

  attach(listener: Listener): void {
    let set = this.users.get(listener.user);
    if (!set) {
      set = new Set();
      this.users.set(listener.user, set);
      this.broker.subscribe(listener.user);
    }
    // Past the per-user limit the oldest stream gives way (a Set iterates in insertion order).
    // Polls are not counted: each lives one request, and a poller must not evict its own stream.
    if (listener.sink.kind !== "poll") {
      let streams = 0;
      for (const other of set) if (other.sink.kind !== "poll") streams++;
      for (const other of set) {
        if (streams < this.options.maxConnectionsPerUser) break;
        if (other.sink.kind === "poll") continue;
        other.stop();
        other.sink.close("replaced");
        streams--;
      }
    }
    set.add(listener);
    this.byKind[listener.sink.kind].add(listener);
    if (listener.sink.kind !== "poll") this.presence.connected(listener.user);
  }

  /** Resolves when events of `user` published anywhere will reach this process. */
  ready(user: string): Promise<void> {
    return this.broker.whenSubscribed?.(user) ?? Promise.resolve();
  }

  detach(listener: Listener): void {
    const set = this.users.get(listener.user);
    if (set?.has(listener)) this.remove(listener, set);
  }

  private remove(listener: Listener, set: Set<Listener>): void {
    set.delete(listener);
    this.byKind[listener.sink.kind].delete(listener);
    if (listener.sink.kind !== "poll") this.presence.disconnected(listener.user);
    if (set.size === 0) {
      this.users.delete(listener.user);
      this.broker.unsubscribe(listener.user);
    }
  }

  /** Delivers to this process's connections of `user` and to every other process. */
  publish(user: string, message: BrokerMessage): void {
    this.deliverLocal(user, message);
    this.broker.publish(user, message);
  }

  private deliverLocal(user: string, message: BrokerMessage): void {
    const set = this.users.get(user);
    if (!set) return;
    if (message.kind === "disconnect") {
      for (const listener of [...set]) {
        listener.stop();
        listener.sink.close("disconnected");
      }
      return;
    }
    if (message.kind === "sync") {
      for (const listener of set) listener.resync();
      return;
    }
    for (const listener of set) listener.push(message.json, message.seq);
    if (message.seq !== null) this.onDeliver(set.size, message.sentAt);
  }

  private sweep(kind: TransportKind): void {
    for (const listener of this.byKind[kind]) listener.sink.heartbeat?.();
  }

  /** Every listener, for shutdown. */
  all(): Listener[] {
    const k = this.byKind;
    return [...k.ws, ...k.sse, ...k.stream, ...k.poll];
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
  }
}
