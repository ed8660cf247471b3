import { isIP } from "node:net";
import { DuetError } from "../core/errors.js";
import {
  PUSH_SUBSCRIPTIONS_PER_USER,
  type PushSubscriptionRecord,
  type PushSubscriptions,
} from "../core/ports/push-subscriptions.js";
import { asObject, onlyKeys } from "../core/validate.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";
import { route } from "./schemas/index.js";
import { pushApi } from "./schemas/push.js";

export interface PushRouteDeps {
  /** null: Web Push is not configured (no VAPID keys). */
  publicKey: string | null;
  subscriptions: PushSubscriptions;
  user(ctx: RouteContext): Promise<string>;
  bodyLimit: number;
}

const MAX_ENDPOINT = 2048;

function base64urlBytes(value: unknown, field: string, length: number): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]+={0,2}$/.test(value) || value.length > 200)
    throw new DuetError("invalid_input", `${field} must be base64url.`);
  const bytes = Buffer.from(value, "base64url");
  if (bytes.length !== length) throw new DuetError("invalid_input", `${field} must be ${length} bytes.`);
  return value;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

/** An endpoint duet will POST to: https, or http on a loopback address (a local test service). */
function endpointOf(value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ENDPOINT)
    throw new DuetError("invalid_input", `endpoint must be a URL of at most ${MAX_ENDPOINT} characters.`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DuetError("invalid_input", "endpoint must be a URL.");
  }
  if (url.username !== "" || url.password !== "")
    throw new DuetError("invalid_input", "endpoint must not carry credentials.");
  if (url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname))) return value;
  throw new DuetError("invalid_input", "endpoint must be https (or http on a loopback address).");
}

/** The browser's PushSubscription JSON, checked. */
export function subscriptionOf(body: unknown): PushSubscriptionRecord {
  const obj = asObject(body);
  onlyKeys(obj, ["endpoint", "keys", "expirationTime"], "the subscription");
  const keys = asObject(obj.keys, "keys");
  onlyKeys(keys, ["p256dh", "auth"], "keys");
  const p256dh = base64urlBytes(keys.p256dh, "keys.p256dh", 65);
  if (Buffer.from(p256dh, "base64url")[0] !== 4)
    throw new DuetError("invalid_input", "keys.p256dh must be an uncompressed P-256 point.");
  const expiration = obj.expirationTime ?? null;
  if (
    expiration !== null &&
    (typeof expiration !== "number" || !Number.isFinite(expiration) || expiration < 0)
  )
    throw new DuetError("invalid_input", "expirationTime must be null or a time in ms.");
  return {
    endpoint: endpointOf(obj.endpoint),
    keys: { p256dh, auth: base64urlBytes(keys.auth, "keys.auth", 16) },
    expirationTime: expiration,
  };
}

/** SPEC section 14: Web Push for browsers. */
export function pushRoutes(router: Router, deps: PushRouteDeps): void {
  const configured = () => {
    if (deps.publicKey === null)
      throw new DuetError("not_found", "Web Push is not configured on this server (DUET_VAPID_*).");
    return deps.publicKey;
  };

  // The schemas (schemas/push.ts) check the shapes; subscriptionOf what they cannot say.
  const api = pushApi();
  route(router, api.vapidKey, async (ctx) => {
    sendJson(ctx.res, 200, { publicKey: configured() });
  });

  route(router, api.subscribe, async (ctx, v) => {
    configured();
    const user = await deps.user(ctx);
    const sub = subscriptionOf(v.body(await readJson(ctx.req, deps.bodyLimit)));
    const result = await deps.subscriptions.addPushSubscription(user, sub);
    if (result === "full")
      throw new DuetError(
        "conflict",
        `A user has at most ${PUSH_SUBSCRIPTIONS_PER_USER} push subscriptions: delete one first.`,
      );
    sendJson(ctx.res, result === "added" ? 201 : 200, { subscription: { endpoint: sub.endpoint } });
  });

  route(router, api.unsubscribe, async (ctx, v) => {
    configured();
    const user = await deps.user(ctx);
    const body = v.body(await readJson(ctx.req, deps.bodyLimit));
    if (typeof body.endpoint !== "string" || body.endpoint.length > MAX_ENDPOINT)
      throw new DuetError("invalid_input", "endpoint must be a string.");
    if (!(await deps.subscriptions.removePushSubscription(user, body.endpoint)))
      throw new DuetError("not_found", "No push subscription with that endpoint.");
    sendJson(ctx.res, 200, { removed: { endpoint: body.endpoint } });
  });
}
