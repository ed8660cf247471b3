/** SPEC section 12: bans through the server API. */
import { Type } from "@sinclair/typebox";
import { Nullable, UserId } from "../../core/schema-kit.js";
import { UserParams } from "./common.js";
import { defineRoute } from "./route.js";

export const MAX_BAN_REASON = 500;
/** The largest time a JS Date can hold. */
export const MAX_TIME = 8.64e15;

export const BanSchema = Type.Object(
  {
    reason: Nullable(Type.String({ description: "Why, for the app's staff." })),
    until: Nullable(Type.Integer({ description: "When it ends (ms since the epoch); null: until lifted." })),
  },
  { title: "Ban" },
);

const UserBan = Type.Object({ user: UserId(), banned: Nullable(BanSchema) }, { title: "UserBan" });

export function bansApi() {
  return {
    ban: defineRoute({
      id: "banUser",
      method: "PUT",
      path: "/v1/admin/users/:user/ban",
      tag: "server",
      auth: "apiKey",
      summary: "Ban a user",
      description:
        "Closes the user's live connections (WebSocket close code 4004; HTTP transports end) and refuses their tokens with 401 user_banned while it lasts. The body may be absent.",
      params: UserParams,
      body: Type.Object(
        {
          reason: Type.Optional(
            Nullable(
              Type.String({
                minLength: 1,
                maxLength: MAX_BAN_REASON,

                pattern: "^[^\\u0000-\\u001f\\u007f]*$",
                errorMessage: `must be 1-${MAX_BAN_REASON} characters without control characters`,
              }),
            ),
          ),
          until: Type.Optional(
            Nullable(
              Type.Integer({
                maximum: MAX_TIME,
                description: "A future time in ms since the epoch; absent or null: until lifted.",
                errorMessage: "must be a future time in ms since the epoch (an integer)",
              }),
            ),
          ),
        },
        { additionalProperties: false, title: "BanBody" },
      ),
      responses: { 200: { description: "Banned.", schema: UserBan } },
      errors: ["store_unavailable"],
    }),
    unban: defineRoute({
      id: "unbanUser",
      method: "DELETE",
      path: "/v1/admin/users/:user/ban",
      tag: "server",
      auth: "apiKey",
      summary: "Lift a user's ban",
      params: UserParams,
      responses: { 200: { description: "Not banned (any more).", schema: UserBan } },
      errors: ["store_unavailable"],
    }),
    show: defineRoute({
      id: "showUser",
      method: "GET",
      path: "/v1/admin/users/:user",
      tag: "server",
      auth: "apiKey",
      summary: "A user as the server API sees it: banned or not",
      params: UserParams,
      responses: { 200: { description: "The user.", schema: UserBan } },
      errors: ["store_unavailable"],
    }),
  };
}
