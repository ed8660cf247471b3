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
  };
}
