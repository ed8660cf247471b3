/**
 * The demo page's service worker (SPEC 14). duet sends each notification as an encrypted Web
 * Push whose payload is the notification's JSON; the browser decrypts it and wakes this worker,
 * which shows it with the peer's name and the preview. A click focuses the demo (or opens it).
 * Built to demo/sw.js by scripts/build-client.mjs; `client.enablePush({ serviceWorker: "sw.js" })`
 * registers it.
 */

/** SPEC 14's notification: `from` wrote `count` messages; `preview` is null when previews are off. */
interface DuetNotification {
  user?: string;
  from?: string;
  count?: number;
  unreadTotal?: number;
  lastMessage?: { id: string; kind: string; preview: string | null };
}

interface ExtendableEvent {
  waitUntil(work: Promise<unknown>): void;
}
interface PushEvent extends ExtendableEvent {
  data: { json(): unknown; text(): string } | null;
}
interface NotificationClickEvent extends ExtendableEvent {
  notification: { close(): void; data: unknown };
}
interface WindowClient {
  url: string;
  focus(): Promise<unknown>;
}
// The DOM lib's `self` is a Window; in a service worker it is this (only what is used here).
const worker = self as unknown as {
  addEventListener(type: "install" | "activate", listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: "push", listener: (event: PushEvent) => void): void;
  addEventListener(type: "notificationclick", listener: (event: NotificationClickEvent) => void): void;
  registration: {
    scope: string;
    showNotification(title: string, options: Record<string, unknown>): Promise<void>;
  };
  clients: {
    matchAll(options: { type: "window"; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<unknown>;
    claim(): Promise<void>;
  };
  skipWaiting(): Promise<void>;
};

/** What the notification says: the peer's name as the title, the preview (or a count) as the body. */
export function notificationOf(n: DuetNotification): { title: string; body: string; tag: string } {
  const from = typeof n.from === "string" && n.from !== "" ? n.from : "duet";
  const count = typeof n.count === "number" && n.count > 1 ? n.count : 1;
  const preview = n.lastMessage?.preview ?? null;
  const kind = n.lastMessage?.kind === "image" ? "a photo" : "a message";
  const body =
    preview !== null && preview !== ""
      ? count > 1
        ? `${preview} (+${count - 1} more)`
        : preview
      : count > 1
        ? `${count} new messages`
        : `Sent you ${kind}`;
  return { title: from, body, tag: `duet:${from}` };
}

worker.addEventListener("install", (event) => event.waitUntil(worker.skipWaiting()));
worker.addEventListener("activate", (event) => event.waitUntil(worker.clients.claim()));

worker.addEventListener("push", (event) => {
  let payload: DuetNotification = {};
  try {
    payload = (event.data?.json() ?? {}) as DuetNotification;
  } catch {
    payload = { lastMessage: { id: "", kind: "text", preview: event.data?.text() ?? null } };
  }
  const { title, body, tag } = notificationOf(payload);
  // One notification per peer: a later burst replaces the earlier one (`tag`) and rings again.
  event.waitUntil(
    worker.registration.showNotification(title, {
      body,
      tag,
      renotify: true,
      icon: "logo.svg",
      data: { from: payload.from ?? null },
    }),
  );
});

worker.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    worker.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const page = windows.find((w) => w.url.startsWith(worker.registration.scope));
      return page ? page.focus() : worker.clients.openWindow(worker.registration.scope);
    }),
  );
});
