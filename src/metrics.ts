import client from "prom-client";
import type { ChatObserver } from "./core/chat.js";
import type { Hub } from "./core/hub.js";

/** One label set's counts: per bucket (not cumulative), and the sum and count of all values. */
interface Series {
  labels: Record<string, string>;
  buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * A prom-client Histogram whose observations cost no allocation and no label hashing: each
 * label set's counts are plain numbers (`observe` is a loop over the bounds and three additions)
 * and prom-client formats them only when /metrics is read, the same text as its own histogram.
 * Observed per message (store and delivery latency), prom-client's `observe` made several
 * objects each time.
 */
export class CountingHistogram<T extends string> extends client.Histogram<T> {
  private readonly bounds: number[];
  private readonly about: { name: string; help: string; aggregator: client.Aggregator };
  private readonly series = new Map<string, Series>();
  /** The series without labels, present from the start (as prom-client's unlabelled histogram). */
  readonly unlabelled: Series;

  constructor(config: client.HistogramConfiguration<T> & { buckets: number[] }) {
    super(config);
    this.bounds = config.buckets;
    this.about = { name: config.name, help: config.help, aggregator: config.aggregator ?? "sum" };
    this.unlabelled = this.makeSeries({});
    if ((config.labelNames ?? []).length === 0) this.series.set("", this.unlabelled);
  }

  private makeSeries(labels: Record<string, string>): Series {
    return { labels, buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 };
  }

  /** The series of one label's value (the histogram's single label). */
  seriesOf(label: T, value: string): Series {
    let series = this.series.get(value);
    if (series === undefined) {
      series = this.makeSeries({ [label]: value });
      this.series.set(value, series);
    }
    return series;
  }

  add(series: Series, value: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      const bound = bounds[i];
      if (bound !== undefined && value <= bound) {
        series.buckets[i] = (series.buckets[i] ?? 0) + 1;
        break;
      }
    }
    series.sum += value;
    series.count++;
  }

  /** What the registry formats (prom-client's own histogram gives the same shape). */
  async getForPromString() {
    const { name, help, aggregator } = this.about;
    const values: {
      labels: Record<string, string | number>;
      sharedLabels: Record<string, string>;
      value: number;
      metricName: string;
      exemplar: null | undefined;
    }[] = [];
    for (const series of this.series.values()) {
      let acc = 0;
      for (const [i, bound] of this.bounds.entries()) {
        acc += series.buckets[i] ?? 0;
        values.push({
          labels: { le: bound },
          sharedLabels: series.labels,
          value: acc,
          metricName: `${name}_bucket`,
          exemplar: null,
        });
      }
      const shared = series.labels;
      values.push(
        {
          labels: { le: "+Inf" },
          sharedLabels: shared,
          value: series.count,
          metricName: `${name}_bucket`,
          exemplar: null,
        },
        {
          labels: {},
          sharedLabels: shared,
          value: series.sum,
          metricName: `${name}_sum`,
          exemplar: undefined,
        },
        {
          labels: {},
          sharedLabels: shared,
          value: series.count,
          metricName: `${name}_count`,
          exemplar: undefined,
        },
      );
    }
    return { name, help, type: "histogram", values, aggregator };
  }
}

/** Prometheus metrics of one process (SPEC section 8). */
export class Metrics implements ChatObserver {
  readonly registry = new client.Registry();
  private readonly deliveryLatency: CountingHistogram<string>;
  private readonly storeSeconds: CountingHistogram<"op">;
  /**
   * Counted here per message and added to the prom-client counters when /metrics is read
   * (their `collect`): a plain addition per message instead of prom-client's `inc`.
   */
  private pendingDelivered = 0;
  private readonly pendingSent = new Map<string, number>();
  private readonly errors: client.Counter<"code">;
  private readonly expired: client.Counter;

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
    const pendingSent = this.pendingSent;
    new client.Counter({
      name: "duet_messages_sent_total",
      help: "Messages stored",
      labelNames: ["kind"],
      registers,
      collect() {
        for (const [kind, n] of pendingSent) if (n > 0) this.inc({ kind }, n);
        pendingSent.clear();
      },
    });
    const self = this;
    new client.Counter({
      name: "duet_events_delivered_total",
      help: "Stored events written to live connections",
      registers,
      collect() {
        if (self.pendingDelivered > 0) this.inc(self.pendingDelivered);
        self.pendingDelivered = 0;
      },
    });
    this.deliveryLatency = new CountingHistogram({
      name: "duet_delivery_latency_seconds",
      help: "From a message's acceptance to its write to a recipient connection",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.storeSeconds = new CountingHistogram({
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
    this.expired = new client.Counter({
      name: "duet_messages_expired_total",
      help: "Expired messages this process's sweeper erased (SPEC 15)",
      registers,
    });
    hub.onDeliver = (n, sentAt) => {
      this.pendingDelivered += n;
      if (sentAt !== undefined) this.deliveredAfter(Math.max(0, Date.now() - sentAt) / 1000);
    };
  }

  messagesExpired(n: number): void {
    this.expired.inc(n);
  }

  messageStored(kind: string): void {
    this.pendingSent.set(kind, (this.pendingSent.get(kind) ?? 0) + 1);
  }

  storeLatency(op: string, seconds: number): void {
    this.storeSeconds.add(this.storeSeconds.seriesOf("op", op), seconds);
  }

  deliveredAfter(seconds: number): void {
    this.deliveryLatency.add(this.deliveryLatency.unlabelled, seconds);
  }

  /** `duet_store_available`: 1 while the store answers, 0 during an outage. */
  watchStore(health: { readonly available: boolean }): void {
    new client.Gauge({
      name: "duet_store_available",
      help: "1 while the store answers, 0 during an outage",
      registers: [this.registry],
      collect() {
        this.set(health.available ? 1 : 0);
      },
    });
  }

  error(code: string): void {
    this.errors.inc({ code });
  }
}
