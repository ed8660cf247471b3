/**
 * SPEC section 14: each webhook type's `data`, as schemas (the envelope `{type, timestamp, data}`
 * and the signature headers are the same for all). The AsyncAPI document's webhooks channel is
 * built from this table: a new webhook type adds its schema here and runs `npm run docs`.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { MessageSchema } from "./message-schema.js";

export const WEBHOOK_SCHEMAS: Record<string, TSchema> = {
  "message.created": Type.Object(
    { message: MessageSchema },
    { description: "A message was stored (sent by a user or through the server API)." },
  ),
};
