/**
 * Web Push for browsers (SPEC 14): `client.enablePush()` registers the app's service worker, asks
 * for permission, subscribes with the server's VAPID key and gives the subscription to duet, which
 * then sends each notification (while the user has no live connection) as an encrypted push;
 * `client.disablePush()` undoes it. In the browser only: elsewhere it fails with `push_unsupported`.
 */
import { DuetClientError } from "./errors.js";
import type { HttpApi } from "./http.js";

export interface PushOptions {
  /** The service worker script's URL (it shows the notification on `push`), e.g. `/sw.js`. */
  serviceWorker: string;
  /** The worker's scope (default: the script's folder, the browser's own default). */
  scope?: string;
}

/** What `enablePush()` answers: the subscription duet stores (its endpoint is the push service's). */
export interface PushState {
  endpoint: string;
}

/**
 * Error codes: `push_unsupported` (no service workers, Push API or Notification here, or not a
 * secure context), `push_denied` (the user or the browser refused permission), and the server's
 * (`not_found` when the server has no VAPID keys configured).
 */
export type PushErrorCode = "push_unsupported" | "push_denied";

// The browser's types, as far as they are used: the SDK also compiles against Node's types, which
// have no DOM (and Node has no service workers: there these parts are simply absent).
interface BrowserSubscription {
  readonly endpoint: string;
  readonly options: { readonly applicationServerKey: ArrayBuffer | null };
  toJSON(): { endpoint?: string; expirationTime?: number | null; keys?: Record<string, string> };
  unsubscribe(): Promise<boolean>;
}
interface BrowserPushManager {
  getSubscription(): Promise<BrowserSubscription | null>;
  subscribe(options: {
    userVisibleOnly: boolean;
    applicationServerKey: Uint8Array;
  }): Promise<BrowserSubscription>;
}
interface BrowserWorker {
  readonly state: string;
  addEventListener(type: "statechange", listener: () => void): void;
}
interface BrowserRegistration {
  readonly pushManager: BrowserPushManager;
  readonly active: BrowserWorker | null;
  readonly installing: BrowserWorker | null;
  readonly waiting: BrowserWorker | null;
}
interface BrowserContainer {
  register(url: string, options?: { scope: string }): Promise<BrowserRegistration>;
  getRegistration(scope?: string): Promise<BrowserRegistration | undefined>;
}
interface BrowserNotification {
  requestPermission(): Promise<string>;
}

function pushError(code: PushErrorCode, message: string): DuetClientError {
  return new DuetClientError(code, message);
}

/** The browser's parts Web Push needs, or an error that says which is missing. */
function browserParts(): { container: BrowserContainer; notification: BrowserNotification } {
  const g = globalThis as {
    navigator?: { serviceWorker?: BrowserContainer };
    PushManager?: unknown;
    Notification?: BrowserNotification;
    isSecureContext?: boolean;
  };
  const container = g.navigator?.serviceWorker;
  if (container === undefined || g.PushManager === undefined)
    throw pushError(
      "push_unsupported",
      g.isSecureContext === false
        ? "Web Push needs a secure context (https, or http on localhost)."
        : "This browser has no service workers or no Push API.",
    );
  if (g.Notification === undefined)
    throw pushError("push_unsupported", "This browser cannot show notifications.");
  return { container, notification: g.Notification };
}

/** base64url (the VAPID key's encoding) to the bytes `applicationServerKey` takes. */
export function base64UrlBytes(value: string): Uint8Array {
  const b64 = value.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sameKey(a: ArrayBuffer | null, b: Uint8Array): boolean {
  if (a === null || a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a);
  return x.every((v, i) => v === b[i]);
}

/**
 * Waits until the registration's worker is active (subscribe() needs one). Not
 * `container.ready`: that waits for a worker controlling this page, which one with a narrower
 * scope never does.
 */
async function activated(registration: BrowserRegistration): Promise<void> {
  if (registration.active !== null) return;
  const worker = registration.installing ?? registration.waiting;
  if (worker === null) return;
  await new Promise<void>((resolve) => {
    const check = () => {
      if (worker.state === "activated" || worker.state === "redundant") resolve();
    };
    worker.addEventListener("statechange", check);
    check();
  });
}

export class WebPush {
  constructor(private readonly api: HttpApi) {}

  async enable(options: PushOptions): Promise<PushState> {
    if (typeof options?.serviceWorker !== "string" || options.serviceWorker === "")
      throw new DuetClientError(
        "invalid_input",
        "enablePush() needs `serviceWorker`: the worker script's URL.",
      );
    const { container, notification } = browserParts();
    // Ask first: a browser shows the prompt only from a user's gesture, so before any await
    // that would lose it (the key request, the registration).
    const permission = await notification.requestPermission();
    if (permission !== "granted")
      throw pushError(
        "push_denied",
        permission === "denied"
          ? "Notifications are blocked for this site: allow them in the browser's site settings."
          : "Notifications were not allowed.",
      );
    const { publicKey } = await this.api.request<{ publicKey: string }>("GET", "/v1/push/vapid-key");
    const key = base64UrlBytes(publicKey);
    const registration = await container.register(
      options.serviceWorker,
      options.scope === undefined ? undefined : { scope: options.scope },
    );
    await activated(registration);
    let subscription = await registration.pushManager.getSubscription();
    // A subscription made with another server's key cannot carry this one's pushes.
    if (subscription !== null && !sameKey(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe().catch(() => false);
      subscription = null;
    }
    subscription ??= await registration.pushManager
      .subscribe({ userVisibleOnly: true, applicationServerKey: key })
      .catch((err: unknown) => {
        const name = (err as { name?: string }).name;
        if (name === "NotAllowedError") throw pushError("push_denied", "Notifications were not allowed.");
        throw pushError(
          "push_unsupported",
          `The browser could not subscribe to its push service: ${(err as Error).message ?? String(err)}`,
        );
      });
    const json = subscription.toJSON();
    await this.api.request("POST", "/v1/push/subscriptions", {
      body: { endpoint: json.endpoint, keys: json.keys, expirationTime: json.expirationTime ?? null },
    });
    return { endpoint: subscription.endpoint };
  }

  /** Unsubscribes this browser and tells duet to forget the subscription (true if there was one). */
  async disable(options: { scope?: string } = {}): Promise<boolean> {
    const { container } = browserParts();
    const registration = await container.getRegistration(options.scope);
    const subscription = (await registration?.pushManager.getSubscription()) ?? null;
    if (subscription === null) return false;
    const endpoint = subscription.endpoint;
    await subscription.unsubscribe().catch(() => false);
    try {
      await this.api.request("DELETE", "/v1/push/subscriptions", { body: { endpoint } });
    } catch (err) {
      // Already gone from the server (removed after a 410, or never stored): nothing to undo.
      if ((err as DuetClientError).code !== "not_found") throw err;
    }
    return true;
  }
}
