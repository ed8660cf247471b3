/** SPEC section 14: Web Push subscriptions for browsers (routes answer 404 unless DUET_VAPID_* is set). */
import { Type } from "@sinclair/typebox";
import { defineRoute } from "./route.js";

const Endpoint = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: "The push service URL: https, or http on a loopback address.",
  errorMessage: "must be a URL of at most 2048 characters",
});
const Base64url = (what: string) =>
  Type.String({
    maxLength: 200,
    pattern: "^[A-Za-z0-9_-]+={0,2}$",
    description: what,
    errorMessage: "must be base64url",
  });

const EndpointAnswer = Type.Object({ endpoint: Type.String() });

export function pushApi() {
  return {
    vapidKey: defineRoute({
      id: "vapidKey",
      method: "GET",
      path: "/v1/push/vapid-key",
      tag: "user",
      auth: "none",
      summary: "The VAPID public key for PushManager.subscribe",
      responses: {
        200: {
          description: "The key.",
          schema: Type.Object({ publicKey: Type.String() }, { title: "VapidKey" }),
        },
      },
      errors: ["not_found"],
    }),
    subscribe: defineRoute({
      id: "addPushSubscription",
      method: "POST",
      path: "/v1/push/subscriptions",
      tag: "user",
      auth: "user",
      summary: "Store the browser's PushSubscription (at most 10 per user)",
      body: Type.Object(
        {
          endpoint: Endpoint,
          keys: Type.Object(
            { p256dh: Base64url("An uncompressed P-256 point (65 bytes)."), auth: Base64url("16 bytes.") },
            { additionalProperties: false },
          ),
          expirationTime: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
        },
        { additionalProperties: false, title: "PushSubscription" },
      ),
      responses: {
        201: { description: "Stored.", schema: Type.Object({ subscription: EndpointAnswer }) },
        200: {
          description: "Stored already (keys updated).",
          schema: Type.Object({ subscription: EndpointAnswer }),
        },
      },
      errors: ["not_found", "conflict", "store_unavailable"],
    }),
    unsubscribe: defineRoute({
      id: "removePushSubscription",
      method: "DELETE",
      path: "/v1/push/subscriptions",
      tag: "user",
      auth: "user",
      summary: "Remove one push subscription",
      body: Type.Object(
        { endpoint: Type.String({ maxLength: 2048 }) },
        { additionalProperties: false, title: "PushEndpoint" },
      ),
      responses: { 200: { description: "Removed.", schema: Type.Object({ removed: EndpointAnswer }) } },
      errors: ["not_found", "store_unavailable"],
    }),
  };
}
