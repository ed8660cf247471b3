/** SPEC section 13: edit, unsend, reactions, delivery receipts, settings and mute. */
import { Type } from "@sinclair/typebox";
import { SettingsSchema } from "../../core/conversation-schema.js";
import { DEFAULT_MAX_TEXT, StoredMessageSchema, Text } from "../../core/message-schema.js";
import { MessageId, Nullable, UserId } from "../../core/schema-kit.js";
import { PeerParams } from "./common.js";
import { defineRoute } from "./route.js";

const MessageAnswer = Type.Object({ message: StoredMessageSchema }, { title: "StoredMessageAnswer" });
const IdParams = Type.Object({ id: MessageId("The message.") });
const ReactionParams = Type.Object({
  id: MessageId("The message."),
  emoji: Type.String({
    minLength: 1,
    maxLength: 16,
    description:
      "One emoji (at most 16 UTF-16 code units; no letters, digits, whitespace or control characters).",
    errorMessage: "must be one emoji (at most 16 UTF-16 code units)",
  }),
});
const SettingsAnswer = Type.Object({ settings: SettingsSchema }, { title: "SettingsAnswer" });
const MuteAnswer = Type.Object(
  { peer: UserId(), muted: Type.Boolean(), until: Nullable(Type.Integer()) },
  { title: "Mute" },
);
const lifecycleErrors = ["forbidden", "not_found", "blocked", "not_matched", "store_unavailable"] as const;

export function lifecycleApi(maxText = DEFAULT_MAX_TEXT) {
  return {
    edit: defineRoute({
      id: "editMessage",
      method: "PATCH",
      path: "/v1/messages/:id",
      tag: "user",
      auth: "user",
      summary: "Edit a message's text or caption (its sender, within the edit window)",
      description: "Both sides get an edit event. Screened and moderated like a send.",
      params: IdParams,
      body: Type.Object(
        { text: Text(maxText, "The new text.") },
        { additionalProperties: false, title: "EditBody" },
      ),
      responses: { 200: { description: "The message after the edit.", schema: MessageAnswer } },
      errors: [
        ...lifecycleErrors,
        "conflict",
        "edit_window_closed",
        "message_rejected",
        "moderation_unavailable",
      ],
    }),
    unsend: defineRoute({
      id: "unsendMessage",
      method: "DELETE",
      path: "/v1/messages/:id",
      tag: "user",
      auth: "user",
      summary: "Unsend a message for everyone (its sender)",
      description:
        "The content is erased; history keeps a tombstone; both sides get a delete event. Repeating it is 200.",
      params: IdParams,
      responses: { 200: { description: "The tombstone.", schema: MessageAnswer } },
      errors: [...lifecycleErrors, "conflict", "unsend_window_closed"],
    }),
    react: defineRoute({
      id: "putReaction",
      method: "PUT",
      path: "/v1/messages/:id/reactions/:emoji",
      tag: "user",
      auth: "user",
      summary: "Put a reaction (either side; idempotent)",
      params: ReactionParams,
      responses: { 200: { description: "The message with its reactions.", schema: MessageAnswer } },
      errors: [...lifecycleErrors, "conflict", "too_many_reactions"],
    }),
    unreact: defineRoute({
      id: "deleteReaction",
      method: "DELETE",
      path: "/v1/messages/:id/reactions/:emoji",
      tag: "user",
      auth: "user",
      summary: "Take a reaction back (idempotent)",
      params: ReactionParams,
      responses: { 200: { description: "The message with its reactions.", schema: MessageAnswer } },
      errors: [...lifecycleErrors, "conflict"],
    }),
    delivered: defineRoute({
      id: "delivered",
      method: "POST",
      path: "/v1/conversations/:peer/delivered",
      tag: "user",
      auth: "user",
      summary: "Acknowledge that peer's messages up to upTo reached this device",
      description: "peer gets a delivered event once per advance (never backwards).",
      params: PeerParams,
      body: Type.Object(
        { upTo: MessageId("The newest message received.") },
        { additionalProperties: false, title: "DeliveredBody" },
      ),
      responses: {
        200: {
          description: "Where the delivery marker stands now.",
          schema: Type.Object({ upTo: Nullable(MessageId()) }, { title: "DeliveredAnswer" }),
        },
      },
      errors: [...lifecycleErrors, "self_message"],
    }),
    settings: defineRoute({
      id: "getSettings",
      method: "GET",
      path: "/v1/settings",
      tag: "user",
      auth: "user",
      summary: "The user's privacy and notification settings",
      responses: { 200: { description: "The settings.", schema: SettingsAnswer } },
      errors: ["store_unavailable"],
    }),
    updateSettings: defineRoute({
      id: "patchSettings",
      method: "PATCH",
      path: "/v1/settings",
      tag: "user",
      auth: "user",
      summary: "Change some settings (merged)",
      body: Type.Object(
        {
          readReceipts: Type.Optional(Type.Boolean()),
          deliveryReceipts: Type.Optional(Type.Boolean()),
          typing: Type.Optional(Type.Boolean()),
          presence: Type.Optional(Type.Boolean()),
          notifications: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false, title: "SettingsPatch" },
      ),
      responses: { 200: { description: "The settings after.", schema: SettingsAnswer } },
      errors: ["store_unavailable"],
    }),
    mute: defineRoute({
      id: "mute",
      method: "PUT",
      path: "/v1/conversations/:peer/mute",
      tag: "user",
      auth: "user",
      summary: "Silence notifications for one conversation",
      description: "The body may be absent (muted until unmuted).",
      params: PeerParams,
      body: Type.Object(
        {
          until: Type.Optional(
            Nullable(Type.Integer({ description: "A future time in ms; absent or null: until unmuted." })),
          ),
        },
        { additionalProperties: false, title: "MuteBody" },
      ),
      responses: { 200: { description: "Muted.", schema: MuteAnswer } },
      errors: ["store_unavailable"],
    }),
    unmute: defineRoute({
      id: "unmute",
      method: "DELETE",
      path: "/v1/conversations/:peer/mute",
      tag: "user",
      auth: "user",
      summary: "Notifications again for one conversation",
      params: PeerParams,
      responses: { 200: { description: "Not muted.", schema: MuteAnswer } },
      errors: ["store_unavailable"],
    }),
  };
}
