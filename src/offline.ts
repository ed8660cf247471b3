/**
 * SPEC section 14 put together for one process: the outbox's dispatcher, the webhook sender, the
 * notifier and Web Push, from the configuration. With no webhook URL and no VAPID keys nothing runs
 * and sends write nothing to the outbox.
 */
import client from "prom-client";
import { type Config, WEBHOOK_TYPES, webhookSecretBytes } from "./config.js";
import type { Chat } from "./core/chat.js";
import { Dispatcher, type OutboxHandler } from "./core/outbox/dispatcher.js";
import { OutboxEvents } from "./core/outbox/events.js";
import type { Outbox, OutboxStore } from "./core/ports/outbox.js";
import type { Store } from "./core/ports/store.js";
import type { Logger } from "./log.js";
import { webhookHandler } from "./outbound/webhook.js";

export interface Offline {
  outbox: Outbox | null;
  events: OutboxEvents;
  dispatcher: Dispatcher | null;
  stop(): Promise<void>;
}

export function isOutboxStore(store: Store): store is Store & OutboxStore {
  return "outbox" in store && "setSendOutboxPolicy" in store;
}

/** The webhook types configured: all of them unless DUET_WEBHOOK_EVENTS names some. */
export function subscribedTypes(config: Config): string[] {
  if (config.webhookUrl === undefined) return [];
  if (config.webhookEvents === undefined) return [...WEBHOOK_TYPES];
  return config.webhookEvents.split(",").map((t) => t.trim());
}

export function startOffline(
  config: Config,
  store: Store,
  chat: Chat,
  registry: client.Registry,
  log: Logger,
): Offline {
  const outboxStore = isOutboxStore(store) ? store : null;
  const outbox = outboxStore?.outbox ?? null;
  const types = subscribedTypes(config);
  const handlers: Record<string, OutboxHandler> = {};
  if (config.webhookUrl !== undefined && config.webhookSecret !== undefined) {
    const send = webhookHandler({
      url: config.webhookUrl,
      secret: webhookSecretBytes(config.webhookSecret),
      timeoutMs: 5000,
    });
    for (const type of types) handlers[type] = send;
  }
  if (outboxStore === null || outbox === null || Object.keys(handlers).length === 0) {
    chat.outboxEvents = new OutboxEvents(null, []);
    return { outbox, events: chat.outboxEvents, dispatcher: null, stop: async () => {} };
  }

  const registers = [registry];
  const attempts = new client.Counter({
    name: "duet_outbox_attempts_total",
    help: "Outbox delivery attempts (webhooks, notifications, Web Push) by type and outcome",
    labelNames: ["type", "outcome"],
    registers,
  });
  const failures = new client.Counter({
    name: "duet_outbox_failures_total",
    help: "Outbox entries that moved to the failed list, by type",
    labelNames: ["type"],
    registers,
  });
  const latency = new client.Histogram({
    name: "duet_outbox_delivery_seconds",
    help: "From an outbox entry's creation to its delivery",
    labelNames: ["type"],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 3600],
    registers,
  });
  new client.Gauge({
    name: "duet_outbox_depth",
    help: "Outbox entries pending and failed (the whole store's, not only this process's)",
    labelNames: ["state"],
    registers,
    async collect() {
      try {
        const depth = await outbox.depth();
        this.set({ state: "pending" }, depth.pending);
        this.set({ state: "failed" }, depth.failed);
      } catch {
        // The store is unreachable: /readyz says so; the gauge keeps its last values.
      }
    },
  });

  const dispatcher = new Dispatcher(
    outbox,
    handlers,
    {
      concurrency: config.outboxConcurrency,
      leaseMs: config.outboxLeaseMs,
      retryBudgetMs: config.webhookRetryS * 1000,
      pollMs: 250,
    },
    {
      attempt(type, outcome) {
        attempts.inc({ type, outcome });
        if (outcome === "failed") failures.inc({ type });
      },
      delivered(type, seconds) {
        latency.observe({ type }, seconds);
      },
      error(err) {
        log.warn({ msg: "outbox", err: (err as Error).message });
      },
    },
  );
  const events = new OutboxEvents(outbox, types, () => dispatcher.poke());
  chat.outboxEvents = events;
  outboxStore.setSendOutboxPolicy({ messageCreated: events.wants("message.created"), notifyDelayMs: null });
  if (events.wants("message.created")) chat.onStored = () => dispatcher.poke();
  dispatcher.start();
  return {
    outbox,
    events,
    dispatcher,
    stop: () => dispatcher.stop(),
  };
}
