/** SPEC section 14: the server API's failed-webhook list and resend. */
import { Type } from "@sinclair/typebox";
import { Nullable } from "../../core/schema-kit.js";
import { defineRoute } from "./route.js";

const WebhookId = Type.String({
  pattern: "^[A-Za-z0-9_.:-]{1,200}$",
  description: "A webhook's id (its webhook-id header), as the failed list shows it.",
  errorMessage: "must be a webhook id as the failed list shows it",
});

export const FailedWebhookSchema = Type.Object(
  {
    id: Type.String({ description: "The webhook-id, the same on every attempt." }),
    type: Type.String({ description: "The webhook type (message.created, ...)." }),
    attempts: Type.Integer({ minimum: 0 }),
    lastError: Nullable(
      Type.String({ description: 'What the last attempt got ("HTTP 500", "timeout", ...).' }),
    ),
    data: Type.Unknown({ description: "The webhook's data, as it would be sent." }),
  },
  { title: "FailedWebhook" },
);

export function webhooksApi() {
  return {
    listFailed: defineRoute({
      id: "listFailedWebhooks",
      method: "GET",
      path: "/v1/admin/webhooks/failed",
      tag: "server",
      auth: "apiKey",
      summary: "Webhooks that failed for their whole retry budget",
      query: Type.Object({
        limit: Type.Optional(
          Type.Integer({
            minimum: 1,
            default: 100,
            description: "Default 100; values above 1000 count as 1000.",
            errorMessage: "must be a positive integer",
          }),
        ),
      }),
      responses: {
        200: {
          description: "The failed webhooks.",
          schema: Type.Object({ failed: Type.Array(FailedWebhookSchema) }, { title: "FailedWebhooks" }),
        },
      },
      errors: ["store_unavailable"],
    }),
    retryFailed: defineRoute({
      id: "retryFailedWebhooks",
      method: "POST",
      path: "/v1/admin/webhooks/failed/retry",
      tag: "server",
      auth: "apiKey",
      summary: "Resend failed webhooks: all ({}), or some ({ids})",
      body: Type.Object(
        {
          ids: Type.Optional(
            Type.Array(WebhookId, {
              maxItems: 1000,
              errorMessage: "must be an array of at most 1000 webhook ids",
            }),
          ),
        },
        { additionalProperties: false, title: "RetryBody" },
      ),
      responses: {
        200: {
          description: "How many were made due again.",
          schema: Type.Object({ retried: Type.Integer({ minimum: 0 }) }, { title: "Retried" }),
        },
      },
      errors: ["store_unavailable"],
    }),
  };
}
