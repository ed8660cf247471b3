/**
 * SPEC section 14 put together for one process: the outbox's dispatcher, the webhook sender, the
 * notifier and Web Push, from the configuration. With no webhook URL and no VAPID keys nothing runs
 * and sends write nothing to the outbox.
 */
import client from "prom-client";
import { type Config, ConfigError, WEBHOOK_TYPES, webhookSecretBytes } from "./config.js";
import type { Chat } from "./core/chat.js";
import { Dispatcher, type OutboxHandler } from "./core/outbox/dispatcher.js";
import { OutboxEvents } from "./core/outbox/events.js";
import { type NotificationSink, Notifier } from "./core/outbox/notifier.js";
import { ALL_ON } from "./core/ports/notification-preferences.js";
import type { Outbox, OutboxStore } from "./core/ports/outbox.js";
import type { PushStore } from "./core/ports/push-subscriptions.js";
import type { Store } from "./core/ports/store.js";
import type { Logger } from "./log.js";
import { checkVapid, pushSink, type VapidKeys, webPushHandler } from "./outbound/web-push.js";
import { webhookHandler } from "./outbound/webhook.js";

/** Per attempt, webhooks and pushes alike (SPEC section 14). */
const ATTEMPT_TIMEOUT_MS = 5000;

export interface Offline {
  outbox: Outbox | null;
  events: OutboxEvents;
  dispatcher: Dispatcher | null;
  notifier: Notifier | null;
  /** The VAPID public key when Web Push is on. */
  vapidPublicKey: string | null;
  stop(): Promise<void>;
}

export function isOutboxStore(store: Store): store is Store & OutboxStore {
  return "outbox" in store && "setSendOutboxPolicy" in store;
}

export function isPushStore(store: Store): store is Store & PushStore {
  return "push" in store;
}

/** The webhook types configured: all of them unless DUET_WEBHOOK_EVENTS names some. */
export function subscribedTypes(config: Config): string[] {
  if (config.webhookUrl === undefined) return [];
  if (config.webhookEvents === undefined) return [...WEBHOOK_TYPES];
  return config.webhookEvents.split(",").map((t) => t.trim());
}

function vapidOf(config: Config): VapidKeys | null {
  if (
    config.vapidPublicKey === undefined ||
    config.vapidPrivateKey === undefined ||
    config.vapidSubject === undefined
  )
    return null;
  const vapid = {
    subject: config.vapidSubject,
    publicKey: config.vapidPublicKey,
    privateKey: config.vapidPrivateKey,
  };
  try {
    checkVapid(vapid);
  } catch (err) {
    throw new ConfigError(`DUET_VAPID_*: ${(err as Error).message}`);
  }
  return vapid;
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
  const vapid = vapidOf(config);
  const push = vapid !== null && isPushStore(store) ? store.push : null;
  const handlers: Record<string, OutboxHandler> = {};
  if (config.webhookUrl !== undefined && config.webhookSecret !== undefined) {
    const send = webhookHandler({
      url: config.webhookUrl,
      secret: webhookSecretBytes(config.webhookSecret),
      timeoutMs: ATTEMPT_TIMEOUT_MS,
      connections: config.outboxConcurrency,
    });
    for (const type of types) handlers[type] = send;
  }
  if (push !== null && vapid !== null)
    handlers.push = webPushHandler({ vapid, subscriptions: push, timeoutMs: ATTEMPT_TIMEOUT_MS });
  const off: Offline = {
    outbox,
    events: new OutboxEvents(null, []),
    dispatcher: null,
    notifier: null,
    vapidPublicKey: vapid?.publicKey ?? null,
    stop: async () => {},
  };
  if (outboxStore === null || outbox === null || Object.keys(handlers).length === 0) {
    chat.outboxEvents = off.events;
    return off;
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
      attemptMs: ATTEMPT_TIMEOUT_MS,
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
  const poke = () => dispatcher.poke();
  const events = new OutboxEvents(outbox, types, poke);
  chat.outboxEvents = events;

  // Notifications: on when someone receives them (the webhook, or browsers through Web Push).
  const sinks: NotificationSink[] = [];
  if (events.wants("notification"))
    sinks.push(async (notification, key) => [events.entry("notification", notification, `not_${key}`)]);
  if (push !== null) sinks.push(pushSink(push));
  let notifier: Notifier | null = null;
  if (sinks.length > 0) {
    notifier = new Notifier({
      outbox,
      store,
      presence: chat.presence,
      preferences: ALL_ON,
      sinks,
      options: { groupMs: config.notifyGroupS * 1000, preview: config.notifyPreview !== "off" },
      enqueued: poke,
    });
    dispatcher.addHandler("notify", notifier.handle);
    const n = notifier;
    chat.dropPendingNotifications = (user, peer) => n.dropPending(user, peer);
  }

  outboxStore.setSendOutboxPolicy({
    messageCreated: events.wants("message.created"),
    notifyDelayMs: notifier === null ? null : config.notifyDelayS * 1000,
  });
  if (events.wants("message.created")) chat.onStored = poke;
  dispatcher.start();
  return { ...off, events, dispatcher, notifier, stop: () => dispatcher.stop() };
}
