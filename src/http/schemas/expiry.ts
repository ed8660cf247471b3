/** SPEC section 15: disappearing messages. */
import { Type } from "@sinclair/typebox";
import { MAX_TTL_S, MIN_TTL_S } from "../../core/expiry.js";
import { UserId } from "../../core/schema-kit.js";
import { PeerParams } from "./common.js";
import { defineRoute } from "./route.js";

const Seconds = Type.Integer({
  minimum: 0,
  maximum: MAX_TTL_S,
  description: `0 (off: the server default, if any, applies), or ${MIN_TTL_S} to ${MAX_TTL_S} (90 days).`,
  errorMessage: `must be 0 or an integer from ${MIN_TTL_S} to ${MAX_TTL_S}`,
});

export function expiryApi() {
  return {
    setTtl: defineRoute({
      id: "setConversationTtl",
      method: "PUT",
      path: "/v1/conversations/:peer/ttl",
      tag: "user",
      auth: "user",
      summary: "Turn disappearing messages on or off for one conversation (either side)",
      description:
        "Messages sent after it carry expiresAt and are erased after it. Both sides get a ttl event (none when the value is unchanged).",
      params: PeerParams,
      body: Type.Object({ seconds: Seconds }, { additionalProperties: false, title: "TtlBody" }),
      responses: {
        200: {
          description: "The conversation's ttl now.",
          schema: Type.Object({ peer: UserId(), seconds: Seconds }, { title: "Ttl" }),
        },
      },
      errors: ["self_message", "blocked", "not_matched", "store_unavailable"],
    }),
  };
}
