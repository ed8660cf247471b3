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
};
