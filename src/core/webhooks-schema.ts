/**
 * SPEC section 14: each webhook type's `data`, as schemas (the envelope `{type, timestamp, data}`
 * and the signature headers are the same for all). The AsyncAPI document's webhooks channel is
 * built from this table: a new webhook type adds its schema here and runs `npm run docs`.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { MessageSchema } from "./message-schema.js";
import { ReportSchema } from "./report-schema.js";

export const WEBHOOK_SCHEMAS: Record<string, TSchema> = {
  "message.created": Type.Object(
    { message: MessageSchema },
    { description: "A message was stored (sent by a user or through the server API)." },
  ),
  "message.flagged": Type.Object(
    {
      message: MessageSchema,
      reasons: Type.Array(Type.Union([Type.Literal("contact_info"), Type.Literal("moderation_unavailable")])),
    },
    {
      description:
        "A message was stored but flagged: the contact-info screen found something, or moderation was unavailable.",
    },
  ),
  "report.created": Type.Object({ report: ReportSchema }, { description: "A user filed a report." }),
  "pair.unmatched": Type.Object(
    {
      users: Type.Array(Type.String(), { minItems: 2, maxItems: 2, description: "The two users, sorted." }),
      historyDeleted: Type.Boolean({ description: "Whether the conversation was erased." }),
    },
    { description: "A pair ended (SPEC 11): unmatched by the server API, by either user, or by an erase." },
  ),
  "user.erased": Type.Object(
    {
      user: Type.String(),
      messages: Type.Integer({ minimum: 0, description: "Messages erased by this call." }),
      pairs: Type.Integer({ minimum: 0, description: "Conversations (pairs) erased by this call." }),
    },
    { description: "A user was erased (SPEC 15): DELETE /v1/admin/users/:user." },
  ),
};
