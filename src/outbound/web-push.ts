import { createHash } from "node:crypto";
import webpush from "web-push";
import { DeliveryError, type OutboxHandler } from "../core/outbox/dispatcher.js";
import type { Notification, NotificationSink } from "../core/outbox/notifier.js";
import type { PushSubscriptions } from "../core/ports/push-subscriptions.js";

export interface VapidKeys {
  subject: string;
  publicKey: string;
  privateKey: string;
}

/** How long a push service keeps an undelivered push (the `TTL` header), in seconds. */
const PUSH_TTL_S = 86_400;

/** Throws (with web-push's words) when the keys or the subject are not usable. */
export function checkVapid(vapid: VapidKeys): void {
  webpush.setVapidDetails(vapid.subject, vapid.publicKey, vapid.privateKey);
}

/** Each notification becomes one `push` entry per subscription of its user (ids stable per message). */
export function pushSink(subscriptions: PushSubscriptions): NotificationSink {
  return async (notification: Notification, key: string) => {
    const subs = await subscriptions.pushSubscriptions(notification.user);
    return subs.map((sub) => ({
      id: `psh_${key}_${createHash("sha256").update(sub.endpoint).digest("hex").slice(0, 16)}`,
      type: "push",
      data: JSON.stringify({ user: notification.user, endpoint: sub.endpoint, payload: notification }),
    }));
  };
}

/**
 * Delivers `push` entries: the notification's JSON encrypted for the subscription (RFC 8291
 * aes128gcm) with a VAPID JWT (RFC 8292), made by the web-push library and POSTed here (so the
 * attempt has the outbox's timeout and redirects are not followed). A 404 or 410 means the
 * subscription is gone: it is deleted and the entry dropped.
 */
export function webPushHandler(options: {
  vapid: VapidKeys;
  subscriptions: PushSubscriptions;
  timeoutMs: number;
}): OutboxHandler {
  return async (entry) => {
    const { user, endpoint, payload } = JSON.parse(entry.data) as {
      user: string;
      endpoint: string;
      payload: Notification;
    };
    const sub = (await options.subscriptions.pushSubscriptions(user)).find((s) => s.endpoint === endpoint);
    if (sub === undefined) return; // unsubscribed meanwhile
    let request: ReturnType<typeof webpush.generateRequestDetails>;
    try {
      request = webpush.generateRequestDetails(sub, JSON.stringify(payload), {
        vapidDetails: options.vapid,
        TTL: PUSH_TTL_S,
        contentEncoding: "aes128gcm",
        urgency: "high",
      });
    } catch (err) {
      // Keys the library cannot use: no retry will make them usable.
      throw new DeliveryError(`bad subscription: ${(err as Error).message}`, false);
    }
    let res: Response;
    try {
      res = await fetch(request.endpoint, {
        method: request.method,
        headers: request.headers as Record<string, string>,
        body: request.body === null ? undefined : new Uint8Array(request.body),
        redirect: "manual",
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (err) {
      const name = (err as Error).name;
      throw new DeliveryError(
        name === "TimeoutError" || name === "AbortError"
          ? `no answer within ${options.timeoutMs} ms`
          : "request failed",
      );
    }
    await res.body?.cancel().catch(() => {});
    if (res.status === 404 || res.status === 410) {
      await options.subscriptions.removePushSubscription(user, endpoint);
      return;
    }
    if (res.status < 200 || res.status > 299) throw new DeliveryError(`HTTP ${res.status}`);
  };
}
