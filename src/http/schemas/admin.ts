/** SPEC section 7: the app backend's server API (Bearer DUET_API_KEY). */
import { Type } from "@sinclair/typebox";
import { MessageSchema, systemBodySchema } from "../../core/message-schema.js";
import { UserId } from "../../core/schema-kit.js";
import { type ApiLimits, OkSchema, UserParams } from "./common.js";
import { defineRoute } from "./route.js";

/** Longest token a request may mint. */
export const MAX_TOKEN_TTL = 30 * 86_400;

export const MintBodySchema = Type.Object(
  {
    user: UserId('Who the token is for (not "system").'),
    ttlSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_TOKEN_TTL,
        description: "Lifetime; default 3600 (server API) or 86400 (dev).",
        errorMessage: `must be an integer from 1 to ${MAX_TOKEN_TTL}`,
      }),
    ),
  },
  { additionalProperties: false, title: "MintBody" },
);

export const TokenSchema = Type.Object(
  {
    user: UserId(),
    token: Type.String({ description: "A JWT (HS256) for Authorization: Bearer." }),
    expiresAt: Type.Integer({ description: "When it expires, in ms since the epoch." }),
  },
  { title: "Token" },
);

export function adminApi(limits: ApiLimits) {
  return {
    systemMessage: defineRoute({
      id: "systemMessage",
      method: "POST",
      path: "/v1/admin/messages",
      tag: "server",
      auth: "apiKey",
      summary: "Send a system message",
      body: systemBodySchema(limits.maxTextLength),
      responses: {
        201: { description: "Stored and sent.", schema: Type.Object({ message: MessageSchema }) },
        200: {
          description: "A repeat of a clientMsgId: the original message.",
          schema: Type.Object({ message: MessageSchema }),
        },
      },
      errors: [
        "self_message",
        "host_not_allowed",
        "message_rejected",
        "moderation_unavailable",
        "store_unavailable",
      ],
    }),
    mintToken: defineRoute({
      id: "mintToken",
      method: "POST",
      path: "/v1/admin/tokens",
      tag: "server",
      auth: "apiKey",
      summary: "Mint a user token",
      description:
        "For backends that would rather not sign JWTs. Needs DUET_JWT_SECRET (409 conflict without it).",
      body: MintBodySchema,
      responses: { 201: { description: "The token.", schema: TokenSchema } },
      errors: ["conflict"],
    }),
    disconnect: defineRoute({
      id: "disconnectUser",
      method: "POST",
      path: "/v1/admin/users/:user/disconnect",
      tag: "server",
      auth: "apiKey",
      summary: "Close all of a user's connections",
      description: "WebSockets close with 4010; held HTTP transports end.",
      params: UserParams,
      responses: { 200: { description: "Closed on every process.", schema: OkSchema } },
    }),
    stats: defineRoute({
      id: "stats",
      method: "GET",
      path: "/v1/admin/stats",
      tag: "server",
      auth: "apiKey",
      summary: "Connections by transport, messages stored, nodes",
      responses: {
        200: {
          description: "This process's connections, the store's message count and the nodes sharing it.",
          schema: Type.Object(
            {
              connections: Type.Object({
                ws: Type.Integer({ minimum: 0 }),
                sse: Type.Integer({ minimum: 0 }),
                stream: Type.Integer({ minimum: 0 }),
                poll: Type.Integer({ minimum: 0 }),
              }),
              messages: Type.Integer({ minimum: 0 }),
              nodes: Type.Array(Type.Object({ id: Type.String() })),
            },
            { title: "Stats" },
          ),
        },
      },
      errors: ["store_unavailable"],
    }),
  };
}
