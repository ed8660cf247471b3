import client from "prom-client";
import type { ChatObserver } from "./core/chat.js";
import type { Hub } from "./core/hub.js";

/** Prometheus metrics of one process (SPEC section 8). */
export class Metrics implements ChatObserver {
  readonly registry = new client.Registry();
  private readonly sent: client.Counter<"kind">;
  private readonly delivered: client.Counter;
  private readonly deliveryLatency: client.Histogram;
  private readonly storeSeconds: client.Histogram<"op">;
  private readonly errors: client.Counter<"code">;

  constructor(hub: Hub) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, prefix: "duet_" });
    new client.Gauge({
      name: "duet_connections",
      help: "Open connections by transport",
      labelNames: ["transport"],
      registers,
      collect() {
        for (const [transport, n] of Object.entries(hub.connectionsByTransport())) this.set({ transport }, n);
      },
    });
    this.sent = new client.Counter({
      name: "duet_messages_sent_total",
      help: "Messages stored",
      labelNames: ["kind"],
      registers,
    });
    this.delivered = new client.Counter({
      name: "duet_events_delivered_total",
      help: "Stored events written to live connections",
      registers,
    });
    this.deliveryLatency = new client.Histogram({
      name: "duet_delivery_latency_seconds",
      help: "From a message's acceptance to its write to a recipient connection",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.storeSeconds = new client.Histogram({
      name: "duet_store_latency_seconds",
      help: "Store operation latency",
      labelNames: ["op"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers,
    });
    this.errors = new client.Counter({
      name: "duet_errors_total",
      help: "Errors answered, by code",
      labelNames: ["code"],
      registers,
    });
    hub.onDeliver = (n, sentAt) => {
      this.delivered.inc(n);
      if (sentAt !== undefined) this.deliveredAfter(Math.max(0, Date.now() - sentAt) / 1000);
    };
  }

  messageStored(kind: string): void {
    this.sent.inc({ kind });
  }

  storeLatency(op: string, seconds: number): void {
    this.storeSeconds.observe({ op }, seconds);
  }

  deliveredAfter(seconds: number): void {
    this.deliveryLatency.observe(seconds);
  }

  error(code: string): void {
    this.errors.inc({ code });
  }
}
