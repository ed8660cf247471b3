/**
 * SPEC section 3 as schemas: a message as the API returns it, and what a sender submits. The wire
 * types in types.ts are these schemas' static types, and the OpenAPI/AsyncAPI documents embed
 * them, so the code, the validators and the documents describe one shape.
 */
import { type Static, Type } from "@sinclair/typebox";
import { MessageId, Nullable, UserId } from "./schema-kit.js";

export const MAX_URL = 2048;
export const MAX_LINKS = 4;
export const MAX_TITLE = 300;
export const MAX_CLIENT_MSG_ID = 64;
export const MAX_DIMENSION = 100_000;
export const DEFAULT_MAX_TEXT = 4000;

/** C0 and C1 control characters except tab, LF and CR, and lone surrogates (not encodable). */
const FORBIDDEN = "\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF";

/**
 * SPEC section 3's text rule: 1-max characters, at least one not whitespace, no control
 * characters but tab, LF and CR. Leading whitespace, one character that is neither whitespace nor
 * forbidden, then anything not forbidden: linear even when it fails (each backtracking step fails
 * at once), ~2 ns a character; a lookahead for the non-whitespace character cost twice that.
 */
export const Text = (max: number, description: string) =>
  Type.String({
    minLength: 1,
    maxLength: max,
    pattern: `^\\s*[^\\s${FORBIDDEN}][^${FORBIDDEN}]*$`,
    description: `${description} 1-${max} characters (UTF-16 code units), at least one not whitespace; no control characters except tab, LF and CR.`,
    errorMessage: `must be 1-${max} characters with at least one that is not whitespace, and no control characters other than tab, line feed and carriage return`,
  });

const Url = (description: string) =>
  Type.String({
    maxLength: MAX_URL,
    description: `${description} An http or https URL of at most ${MAX_URL} characters.`,
    errorMessage: `must be an http(s) URL of at most ${MAX_URL} characters`,
  });

const Dimension = (what: string) =>
  Type.Integer({
    minimum: 1,
    maximum: MAX_DIMENSION,
    description: `${what} in pixels.`,
    errorMessage: `must be an integer from 1 to ${MAX_DIMENSION}`,
  });

export const ImageRefSchema = Type.Object(
  {
    url: Url("The image."),
    width: Type.Optional(Dimension("Width")),
    height: Type.Optional(Dimension("Height")),
  },
  { additionalProperties: false, title: "ImageRef" },
);

export const LinkRefSchema = Type.Object(
  {
    url: Url("The link."),
    title: Type.Optional(
      Type.String({
        maxLength: MAX_TITLE,
        errorMessage: `must be a string of at most ${MAX_TITLE} characters`,
      }),
    ),
  },
  { additionalProperties: false, title: "LinkRef" },
);

export const MessageKindSchema = Type.Union(
  [Type.Literal("text"), Type.Literal("image"), Type.Literal("system")],
  {
    description: "text, image (may have text as a caption) or system (sent through the server API).",
  },
);

const ClientMsgId = Type.String({
  minLength: 1,
  maxLength: MAX_CLIENT_MSG_ID,
  pattern: "^[^\\uD800-\\uDFFF]*$",
  description: "Makes sending idempotent: the same sender sending it again gets the original message back.",
  errorMessage: `must be a string of 1-${MAX_CLIENT_MSG_ID} characters`,
});

const Links = Type.Array(LinkRefSchema, {
  maxItems: MAX_LINKS,
  description: `Up to ${MAX_LINKS} links.`,
  errorMessage: `must be an array of at most ${MAX_LINKS} {url, title?}`,
});

export const MessageSchema = Type.Object(
  {
    id: MessageId("Assigned by the server: unique, and sorts in the conversation's order."),
    from: UserId('The sender ("system" for server API messages unless another was named).'),
    to: UserId("The recipient."),
    ts: Type.Integer({ description: "When the server stored it, in ms since the epoch." }),
    kind: MessageKindSchema,
    text: Nullable(Type.String()),
    image: Nullable(ImageRefSchema),
    links: Type.Array(LinkRefSchema),
    clientMsgId: Nullable(Type.String()),
    screened: Type.Optional(
      Type.Array(Type.Union([Type.Literal("phone"), Type.Literal("email"), Type.Literal("handle")]), {
        description: "The contact details the screen found (SPEC 12, flag and mask); absent when none.",
      }),
    ),
    moderated: Type.Optional(
      Type.Literal(true, { description: "The moderation hook rewrote the text; absent otherwise." }),
    ),
    editedAt: Type.Optional(Type.Integer({ description: "When it was last edited (ms); absent if never." })),
    reactions: Type.Optional(
      Type.Record(Type.String(), Type.Array(UserId()), {
        description: "Emoji -> the users who put it; absent when none.",
      }),
    ),
    expiresAt: Type.Optional(
      Type.Integer({
        description:
          "SPEC 15: when the message disappears (ms); absent unless its conversation had a ttl (or the server default applied) when it was sent.",
      }),
    ),
  },
  { title: "Message", description: "A message as the API returns it (SPEC sections 3 and 13)." },
);

/** What an unsent message leaves in history and in the event log (SPEC 13): no content at all. */
export const TombstoneSchema = Type.Object(
  {
    id: MessageId(),
    from: UserId(),
    to: UserId(),
    ts: Type.Integer(),
    kind: Type.Literal("deleted"),
    deletedAt: Type.Integer({ description: "When it was unsent (ms)." }),
  },
  { title: "Tombstone", description: "An unsent message: its content is erased from the store." },
);

/** A message as history, events and conversation lists carry it: live, or a tombstone. */
export const StoredMessageSchema = Type.Union([MessageSchema, TombstoneSchema], { title: "StoredMessage" });

/** The fields a user sends (HTTP body of POST /v1/messages, and the WebSocket `send` frame's). */
export function sendFields(maxText: number) {
  return {
    to: UserId('The recipient: not the sender, not "system".'),
    text: Type.Optional(Nullable(Text(maxText, "Required unless image is given (then it is a caption)."))),
    image: Type.Optional(Nullable(ImageRefSchema)),
    links: Type.Optional(Nullable(Links)),
    clientMsgId: Type.Optional(Nullable(ClientMsgId)),
  };
}

export function sendBodySchema(maxText = DEFAULT_MAX_TEXT) {
  return Type.Object(sendFields(maxText), { additionalProperties: false, title: "SendBody" });
}

export function systemBodySchema(maxText = DEFAULT_MAX_TEXT) {
  return Type.Object(
    {
      to: UserId("The recipient."),
      text: Text(maxText, "The system message's text."),
      from: Type.Optional(Nullable(UserId('Who it is from; "system" when absent.'))),
      links: Type.Optional(Nullable(Links)),
      clientMsgId: Type.Optional(Nullable(ClientMsgId)),
    },
    { additionalProperties: false, title: "SystemMessageBody" },
  );
}

export type WireMessage = Static<typeof MessageSchema>;
export type ImageRef = Static<typeof ImageRefSchema>;
export type LinkRef = Static<typeof LinkRefSchema>;
export type MessageKind = Static<typeof MessageKindSchema>;
export type SendBody = Static<ReturnType<typeof sendBodySchema>>;
