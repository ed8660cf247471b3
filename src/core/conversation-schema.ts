/** Shapes of SPEC section 4's answers that are not messages: conversation summaries, presence. */
import { type Static, Type } from "@sinclair/typebox";
import { StoredMessageSchema } from "./message-schema.js";
import { MessageId, Nullable, UserId } from "./schema-kit.js";

export const ConversationSummarySchema = Type.Object(
  {
    peer: UserId("The other side."),
    unread: Type.Integer({ minimum: 0, description: "Messages from peer the user has not read." }),
    lastMessage: Nullable(StoredMessageSchema),
    updatedAt: Type.Integer({ description: "Latest activity, in ms since the epoch." }),
    peerReadUpTo: Type.Optional(
      Nullable(MessageId("The last of my messages the peer has read (null: none, or receipts off).")),
    ),
    peerDeliveredUpTo: Type.Optional(
      Nullable(MessageId("The last of my messages the peer's device acknowledged (null: none, or off).")),
    ),
    muted: Type.Optional(Type.Boolean({ description: "Whether I muted this conversation's notifications." })),
    ttl: Type.Integer({
      minimum: 0,
      description:
        "SPEC 15: the conversation's own disappearing-messages ttl in seconds (PUT .../ttl); 0 when it has none. The server-wide default (DUET_MESSAGE_TTL_S) is not shown here: a message's own expiresAt says when it goes.",
    }),
  },
  { title: "ConversationSummary" },
);

export const PresenceInfoSchema = Type.Object(
  {
    online: Type.Boolean(),
    lastSeen: Type.Optional(Type.Integer({ description: "When last online, in ms since the epoch." })),
  },
  { title: "PresenceInfo" },
);

export const SettingsSchema = Type.Object(
  {
    readReceipts: Type.Boolean(),
    deliveryReceipts: Type.Boolean(),
    typing: Type.Boolean(),
    presence: Type.Boolean(),
    notifications: Type.Boolean(),
  },
  {
    title: "Settings",
    description: "What a user lets peers learn, and whether they get notifications (SPEC 13).",
  },
);

export type ConversationSummary = Static<typeof ConversationSummarySchema>;
export type PresenceInfo = Static<typeof PresenceInfoSchema>;
