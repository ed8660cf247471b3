/** SPEC section 15: a user's data through the server API (export and erase). */
import { Type } from "@sinclair/typebox";
import { UserParams } from "./common.js";
import { defineRoute } from "./route.js";

export const ErasedSchema = Type.Object(
  {
    erased: Type.Object({
      messages: Type.Integer({ minimum: 0, description: "Messages erased by this call." }),
      pairs: Type.Integer({ minimum: 0, description: "Conversations ended and erased by this call." }),
    }),
  },
  { title: "Erased" },
);

export function userDataApi() {
  return {
    exportUser: defineRoute({
      id: "exportUser",
      method: "GET",
      path: "/v1/admin/users/:user/export",
      tag: "server",
      auth: "apiKey",
      summary: "Export everything duet holds about a user (NDJSON, streamed)",
      description:
        'One JSON record per line, each with a `type`: first `{"type":"export","user","generatedAt","version"}`, then `settings`, `pair`, `block`, `push_subscription` (endpoint only), `report` (filed by the user) and `message` (sent or received, current state) records. Streamed in constant memory; a user duet holds nothing about gets the first line only. See docs/PRIVACY.md.',
      params: UserParams,
      responses: { 200: { description: "The export, streamed.", contentType: "application/x-ndjson" } },
      errors: ["store_unavailable"],
    }),
    eraseUser: defineRoute({
      id: "eraseUser",
      method: "DELETE",
      path: "/v1/admin/users/:user",
      tag: "server",
      auth: "apiKey",
      summary: "Erase a user",
      description:
        "Refuses the user's tokens issued until now (401 user_erased; a token issued later is accepted: the id may be reused), closes their live connections everywhere (WebSocket 4003; HTTP transports end), ends every conversation as an unmatch with history deleted (peers get the `pair` event, unmatched), removes their blocks, settings, mutes, push subscriptions, event log and pending notifications, then sends the `user.erased` webhook. Reports filed by or about them are kept. Safe to repeat: a repeat finishes an erase a crash interrupted. A user duet never knew answers zero counts. See docs/PRIVACY.md.",
      params: UserParams,
      responses: { 200: { description: "Erased (what this call erased).", schema: ErasedSchema } },
      errors: ["store_unavailable"],
    }),
  };
}
