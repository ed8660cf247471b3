import { LocalBroker } from "./local-broker.js";
import type { Broker, BrokerMessage, DisconnectReason } from "./ports/broker.js";
import type { PresenceRegistry } from "./ports/presence.js";
import type { Sink, TransportKind } from "./ports/sink.js";

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
  /**
   * Each user's local listeners: the listener itself when there is one (the common case: no
   * collection per user), else an array. Arrays are replaced, never changed in place, so a
   * delivery iterating one is not disturbed by listeners leaving or joining meanwhile.
   */
  private readonly users = new Map<string, Listener | Listener[]>();
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
  /** The broker's publish is the one-process one, which tells nobody: no publication is made. */
  private readonly localOnly: boolean;
  /**
   * Called on each local delivery of a stored event to `count` connections, for the delivery
   * metrics; `sentAt` is when a message was accepted, when the publication carries it.
   */
  onDeliver: (count: number, sentAt?: number) => void = () => {};

  constructor(broker: Broker, presence: PresenceRegistry, options: HubOptions) {
    this.broker = broker;
    this.presence = presence;
    this.options = options;
    this.localOnly = broker.publish === LocalBroker.prototype.publish;
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
    const user = listener.user;
    const entry = this.users.get(user);
    const evicted: Listener[] = [];
    if (entry === undefined) {
      this.users.set(user, listener);
      this.broker.subscribe(user);
    } else {
      const current = Array.isArray(entry) ? entry : [entry];
      // Past the per-user limit the oldest streams give way (listeners are kept in arrival order).
      // Polls are not counted: each lives one request, and a poller must not evict its own stream.
      if (listener.sink.kind !== "poll") {
        let streams = 0;
        for (const other of current) if (other.sink.kind !== "poll") streams++;
        for (const other of current) {
          if (streams < this.options.maxConnectionsPerUser) break;
          if (other.sink.kind === "poll") continue;
          evicted.push(other);
          streams--;
        }
      }
      this.users.set(user, [...current, listener]);
    }
    this.byKind[listener.sink.kind].add(listener);
    if (listener.sink.kind !== "poll") this.presence.connected(user);
    // Evicted after the newcomer is in: the user never has no listener here meanwhile (which would
    // unsubscribe the broker, and tell presence the user went offline, for a moment).
    for (const other of evicted) {
      other.stop();
      other.sink.close("replaced");
    }
  }

  /** Resolves when events of `user` published anywhere will reach this process. */
  ready(user: string): Promise<void> {
    return this.broker.whenSubscribed?.(user) ?? Promise.resolve();
  }

  detach(listener: Listener): void {
    const user = listener.user;
    const entry = this.users.get(user);
    if (entry === undefined) return;
    if (entry === listener) {
      this.users.delete(user);
      this.broker.unsubscribe(user);
    } else if (Array.isArray(entry) && entry.includes(listener)) {
      const rest = entry.filter((other) => other !== listener);
      const only = rest.length === 1 ? rest[0] : undefined;
      this.users.set(user, only ?? rest);
    } else {
      return;
    }
    this.byKind[listener.sink.kind].delete(listener);
    if (listener.sink.kind !== "poll") this.presence.disconnected(user);
  }

  /** Delivers to this process's connections of `user` and to every other process. */
  publish(user: string, message: BrokerMessage): void {
    this.deliverLocal(user, message);
    this.broker.publish(user, message);
  }

  /**
   * `publish` of an event, taking its fields rather than a message: with one process (the local
   * broker tells nobody) no message is made.
   */
  publishEvent(user: string, seq: number | null, json: string, sentAt?: number): void {
    this.deliverEvent(user, json, seq, sentAt);
    if (this.localOnly) return;
    this.broker.publish(user, { kind: "event", seq, json, sentAt });
  }

  /** Delivers an event to this process's connections only: the other processes have it already. */
  deliverHere(user: string, seq: number | null, json: string, sentAt?: number): void {
    this.deliverEvent(user, json, seq, sentAt);
  }

  private deliverLocal(user: string, message: BrokerMessage): void {
    const entry = this.users.get(user);
    if (entry === undefined) return;
    if (message.kind === "disconnect") {
      this.closeLocal(user, message.reason ?? "disconnected");
      return;
    }
    if (message.kind === "sync") {
      if (Array.isArray(entry)) for (const listener of entry) listener.resync();
      else entry.resync();
      return;
    }
    this.deliverEvent(user, message.json, message.seq, message.sentAt);
  }

  /** Closes this process's connections of `user` (no other process is told). */
  closeLocal(user: string, reason: "disconnected" | DisconnectReason): void {
    const entry = this.users.get(user);
    if (entry === undefined) return;
    for (const listener of Array.isArray(entry) ? entry : [entry]) {
      listener.stop();
      listener.sink.close(reason);
    }
  }

  private deliverEvent(user: string, json: string, seq: number | null, sentAt: number | undefined): void {
    const entry = this.users.get(user);
    if (entry === undefined) return;
    let count = 1;
    if (Array.isArray(entry)) {
      for (const listener of entry) listener.push(json, seq);
      count = entry.length;
    } else {
      entry.push(json, seq);
    }
    if (seq !== null) this.onDeliver(count, sentAt);
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
