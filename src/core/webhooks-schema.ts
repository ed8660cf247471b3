/**
 * SPEC section 14: each webhook type's `data`, as schemas (the envelope `{type, timestamp, data}`
 * and the signature headers are the same for all). The AsyncAPI document's webhooks channel is
 * built from this table: a new webhook type adds its schema here and runs `npm run docs`.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { MessageKindSchema, MessageSchema, TombstoneSchema } from "./message-schema.js";
import { ReportSchema } from "./report-schema.js";
import { MessageId, Nullable, UserId } from "./schema-kit.js";

export const WEBHOOK_SCHEMAS: Record<string, TSchema> = {
  "message.created": Type.Object(
    { message: MessageSchema },
    { description: "A message was stored (sent by a user or through the server API)." },
  ),
  "message.updated": Type.Object(
    { message: MessageSchema },
    { description: "A message was edited (SPEC 13): the message as it is now." },
  ),
  "message.deleted": Type.Object(
    { message: TombstoneSchema },
    { description: "A message was unsent (SPEC 13): its tombstone; the content is gone." },
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
  notification: Type.Object(
    {
      user: UserId("Who is notified: offline, with notifications on and the conversation not muted."),
      from: UserId("The peer whose messages it is about."),
      count: Type.Integer({ minimum: 1, description: "Messages from `from` since the last notification." }),
      unreadTotal: Type.Integer({
        minimum: 0,
        description: "The user's unread messages, all conversations.",
      }),
      lastMessage: Type.Object({
        id: MessageId(),
        kind: MessageKindSchema,
        preview: Nullable(
          Type.String({
            description: "The start of its text; null with DUET_NOTIFY_PREVIEW=off or no text.",
          }),
        ),
      }),
    },
    {
      description:
        "Messages reached a user who is offline (SPEC 14): one per pair per DUET_NOTIFY_GROUP_S, DUET_NOTIFY_DELAY_S after the message. Web Push carries the same payload.",
    },
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
