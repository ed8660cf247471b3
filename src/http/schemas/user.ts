/** SPEC section 4: the user's HTTP API (Bearer user token). */
import { Type } from "@sinclair/typebox";
import { ConversationSummarySchema, PresenceInfoSchema } from "../../core/conversation-schema.js";
import { MessageSchema, StoredMessageSchema, sendBodySchema } from "../../core/message-schema.js";
import { MessageId, Nullable, UserId } from "../../core/schema-kit.js";
import { type ApiLimits, Limit, OkSchema, PeerParams, UserParams } from "./common.js";
import { defineRoute } from "./route.js";

const MessageBody = Type.Object({ message: MessageSchema }, { title: "MessageAnswer" });
const Messages = Type.Array(StoredMessageSchema);
const BlocksBody = Type.Object({ blocks: Type.Array(UserId()) }, { title: "Blocks" });

export function userApi(limits: ApiLimits) {
  return {
    sendMessage: defineRoute({
      id: "sendMessage",
      method: "POST",
      path: "/v1/messages",
      tag: "user",
      auth: "user",
      summary: "Send a message",
      description: "A text message has text; an image message has image and may have text as a caption.",
      body: sendBodySchema(limits.maxTextLength),
      responses: {
        201: { description: "Stored and sent.", schema: MessageBody },
        200: {
          description: "A repeat of a clientMsgId this sender used: the original message.",
          schema: MessageBody,
        },
      },
      errors: [
        "self_message",
        "blocked",
        "not_matched",
        "host_not_allowed",
        "message_rejected",
        "moderation_unavailable",
        "rate_limited",
        "store_unavailable",
      ],
    }),
    listConversations: defineRoute({
      id: "listConversations",
      method: "GET",
      path: "/v1/conversations",
      tag: "user",
      auth: "user",
      summary: "The user's conversations, latest activity first",
      query: Type.Object({
        limit: Type.Optional(Limit(50, 200)),
        before: Type.Optional(
          Type.Integer({
            minimum: 0,
            description: "Only conversations with activity before this time (ms).",
            errorMessage: "must be a non-negative integer (ms)",
          }),
        ),
      }),
      responses: {
        200: {
          description: "The conversations.",
          schema: Type.Object(
            { conversations: Type.Array(ConversationSummarySchema) },
            { title: "Conversations" },
          ),
        },
      },
      errors: ["store_unavailable"],
    }),
    history: defineRoute({
      id: "history",
      method: "GET",
      path: "/v1/conversations/:peer/messages",
      tag: "user",
      auth: "user",
      summary: "A conversation's history, oldest first",
      params: PeerParams,
      query: Type.Object({
        before: Type.Optional(MessageId("Only messages before this one.")),
        after: Type.Optional(MessageId("Only messages after this one.")),
        limit: Type.Optional(Limit(50, 200)),
      }),
      responses: {
        200: {
          description: "A page of messages.",
          schema: Type.Object(
            { messages: Messages, hasMore: Type.Boolean({ description: "More exist beyond this page." }) },
            { title: "HistoryPage" },
          ),
        },
      },
      errors: ["store_unavailable"],
    }),
    readUnread: defineRoute({
      id: "readUnread",
      method: "GET",
      path: "/v1/conversations/:peer/unread",
      tag: "user",
      auth: "user",
      summary: "The oldest unread messages from peer (the origin's read())",
      description:
        "With markRead (the default) exactly the messages returned become read; the rest stay unread. Marking them read is refused as a read is: 403 `blocked` when either blocks the other, 403 `not_matched` when the pair is not matched (SPEC 11); with markRead=false the messages are returned either way.",
      params: PeerParams,
      query: Type.Object({
        limit: Type.Optional(Limit(20, 200)),
        markRead: Type.Optional(Type.Boolean({ default: true, errorMessage: "must be true or false" })),
      }),
      responses: {
        200: {
          description: "The messages.",
          schema: Type.Object({ messages: Messages }, { title: "UnreadMessages" }),
        },
      },
      errors: ["blocked", "not_matched", "store_unavailable"],
    }),
    markRead: defineRoute({
      id: "markRead",
      method: "POST",
      path: "/v1/conversations/:peer/read",
      tag: "user",
      auth: "user",
      summary: "Mark peer's messages read up to upTo",
      description: "peer gets a read event.",
      params: PeerParams,
      body: Type.Object(
        { upTo: MessageId("The newest message read.") },
        { additionalProperties: false, title: "ReadBody" },
      ),
      responses: {
        200: {
          description: "Where the read marker stands now (null: nothing was read).",
          schema: Type.Object({ upTo: Nullable(MessageId()) }, { title: "ReadAnswer" }),
        },
      },
      errors: ["blocked", "not_matched", "store_unavailable"],
    }),
    typing: defineRoute({
      id: "typing",
      method: "POST",
      path: "/v1/typing",
      tag: "user",
      auth: "user",
      summary: "Tell `to` the user is typing",
      description: "`to` gets an ephemeral typing event.",
      body: Type.Object({ to: UserId("Who sees it.") }, { additionalProperties: false, title: "TypingBody" }),
      responses: { 200: { description: "Sent to to's live connections.", schema: OkSchema } },
      errors: ["self_message", "blocked", "not_matched", "rate_limited", "store_unavailable"],
    }),
    listBlocks: defineRoute({
      id: "listBlocks",
      method: "GET",
      path: "/v1/blocks",
      tag: "user",
      auth: "user",
      summary: "The users this user blocks",
      responses: { 200: { description: "The block list.", schema: BlocksBody } },
      errors: ["store_unavailable"],
    }),
    block: defineRoute({
      id: "block",
      method: "PUT",
      path: "/v1/blocks/:user",
      tag: "user",
      auth: "user",
      summary: "Block a user",
      description: "A blocked user cannot send to, type to, or see the presence of the blocker.",
      params: UserParams,
      responses: { 200: { description: "The block list after.", schema: BlocksBody } },
      errors: ["self_message", "store_unavailable"],
    }),
    unblock: defineRoute({
      id: "unblock",
      method: "DELETE",
      path: "/v1/blocks/:user",
      tag: "user",
      auth: "user",
      summary: "Unblock a user",
      params: UserParams,
      responses: { 200: { description: "The block list after.", schema: BlocksBody } },
      errors: ["store_unavailable"],
    }),
    presence: defineRoute({
      id: "presence",
      method: "GET",
      path: "/v1/presence",
      tag: "user",
      auth: "user",
      summary: "Whether users are online",
      description:
        "Asking for a user the viewer is not matched with (DUET_PAIRS=matched, or a pair the server API unmatched) is 403 `not_matched`.",
      query: Type.Object({
        users: Type.String({
          maxLength: 6500,
          description: "1-100 comma-separated user ids.",
          errorMessage: "must be 1-100 comma-separated user ids",
        }),
      }),
      responses: {
        200: {
          description: "Presence by user; a user who blocks the viewer shows offline.",
          schema: Type.Object(
            { presence: Type.Record(Type.String(), PresenceInfoSchema) },
            { title: "Presence" },
          ),
        },
      },
      errors: ["not_matched", "store_unavailable"],
    }),
  };
}
