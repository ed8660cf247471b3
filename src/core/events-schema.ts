/**
 * SPEC section 5: every event a user's stream carries, as schemas. Each transport carries these
 * same objects (the WebSocket wraps them as {"op":"event",...}); the AsyncAPI document is built
 * from this file. To add an event: define its schema here, add it to EVENT_SCHEMAS (stored events
 * also to STORED_EVENT_SCHEMAS), and its type follows into DuetEvent.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { StoredMessageSchema } from "./message-schema.js";
import { MessageId, UserId } from "./schema-kit.js";

export const Seq = Type.Integer({
  minimum: 0,
  description: "The event's position in the user's event log: increases by at least 1 per stored event.",
});
export const Epoch = Type.String({
  pattern: "^[A-Za-z0-9-]{1,64}$",
  description: "Identifies the user's event log; a wiped store gets a new one.",
});

export const MessageEventSchema = Type.Object(
  { type: Type.Literal("message"), seq: Seq, message: StoredMessageSchema },
  {
    title: "MessageEvent",
    description: "A message to the user, or from the user (sent from another connection or device). Stored.",
  },
);

export const ReadEventSchema = Type.Object(
  {
    type: Type.Literal("read"),
    seq: Seq,
    peer: UserId("The other side of the conversation, from the receiving user's point of view."),
    reader: UserId("Who read."),
    upTo: MessageId("Every message from the reader's peer up to this one is read."),
  },
  {
    title: "ReadEvent",
    description: "The peer read the user's messages (or the user did, on another device). Stored.",
  },
);

export const TypingEventSchema = Type.Object(
  { type: Type.Literal("typing"), from: UserId("Who is typing.") },
  { title: "TypingEvent", description: "The peer is typing. Ephemeral: no seq, never replayed." },
);

export const ResetEventSchema = Type.Object(
  { type: Type.Literal("reset"), seq: Seq, epoch: Epoch },
  {
    title: "ResetEvent",
    description:
      "The cursor cannot be resumed (older than the retained window, or another epoch): reload state with the HTTP API and continue from this seq and epoch.",
  },
);

export const HelloEventSchema = Type.Object(
  { type: Type.Literal("hello"), user: UserId("Who the stream is for."), epoch: Epoch, seq: Seq },
  { title: "HelloEvent", description: "First on every stream: the user's newest seq and epoch." },
);

export const PairEventSchema = Type.Object(
  {
    type: Type.Literal("pair"),
    seq: Seq,
    peer: UserId("The other user of the pair."),
    state: Type.Union([Type.Literal("matched"), Type.Literal("unmatched")]),
    historyDeleted: Type.Optional(
      Type.Boolean({ description: "On an unmatch: true when the conversation was erased, false when kept." }),
    ),
  },
  {
    title: "PairEvent",
    description:
      "SPEC section 11: the app backend matched the user with peer, or the pair was unmatched. Stored.",
  },
);

export const EditEventSchema = Type.Object(
  { type: Type.Literal("edit"), seq: Seq, message: StoredMessageSchema },
  {
    title: "EditEvent",
    description: "A message was edited (SPEC 13); message is its whole current state. Stored.",
  },
);

export const DeleteEventSchema = Type.Object(
  {
    type: Type.Literal("delete"),
    seq: Seq,
    id: MessageId("The unsent message."),
    peer: UserId("The other side of the conversation."),
  },
  {
    title: "DeleteEvent",
    description: "A message was unsent; its content is gone from the store (SPEC 13). Stored.",
  },
);

export const ReactionEventSchema = Type.Object(
  {
    type: Type.Literal("reaction"),
    seq: Seq,
    id: MessageId("The message reacted to."),
    peer: UserId("The other side of the conversation."),
    user: UserId("Who reacted."),
    emoji: Type.String({ maxLength: 16 }),
    on: Type.Boolean({ description: "true: put; false: taken back." }),
  },
  { title: "ReactionEvent", description: "A reaction was put or taken back (SPEC 13). Stored." },
);

export const DeliveredEventSchema = Type.Object(
  {
    type: Type.Literal("delivered"),
    seq: Seq,
    peer: UserId("Whose device acknowledged."),
    upTo: MessageId("The user's messages up to this one reached peer's device."),
  },
  { title: "DeliveredEvent", description: "Delivery receipt (SPEC 13), once per advance. Stored." },
);

export const TtlEventSchema = Type.Object(
  {
    type: Type.Literal("ttl"),
    seq: Seq,
    peer: UserId("The other side of the conversation."),
    seconds: Type.Integer({
      minimum: 0,
      description:
        "How long messages sent from now on live (s); 0: the conversation has no ttl of its own (the server default, if any, applies).",
    }),
  },
  {
    title: "TtlEvent",
    description: "SPEC 15: either side set the conversation's disappearing-messages ttl. Stored.",
  },
);

/** Every event type, by name, in the order the documents list them. */
export const EVENT_SCHEMAS = {
  hello: HelloEventSchema,
  message: MessageEventSchema,
  read: ReadEventSchema,
  typing: TypingEventSchema,
  reset: ResetEventSchema,
  pair: PairEventSchema,
  edit: EditEventSchema,
  delete: DeleteEventSchema,
  reaction: ReactionEventSchema,
  delivered: DeliveredEventSchema,
  ttl: TtlEventSchema,
} satisfies Record<string, TSchema>;

export const StoredEventSchema = Type.Union(
  [
    MessageEventSchema,
    ReadEventSchema,
    PairEventSchema,
    EditEventSchema,
    DeleteEventSchema,
    ReactionEventSchema,
    DeliveredEventSchema,
    TtlEventSchema,
  ],
  {
    title: "StoredEvent",
  },
);
export const DuetEventSchema = Type.Union(Object.values(EVENT_SCHEMAS), { title: "DuetEvent" });

/** The events' static types; core/types.ts's interfaces are held to agree with them (types-agree.ts). */
export type WireEvent = Static<typeof DuetEventSchema>;
