/**
 * SPEC section 6's WebSocket frames as schemas: the ops a client sends and the frames the server
 * answers with. The transport validates incoming ops with them (compiled once per server) and the
 * AsyncAPI document describes the WebSocket channel from them. To add an op: define its frame
 * here, add it to clientFrames(), validate it in ws.ts's dispatch, and add its result frame.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { ErrorObjectSchema } from "../core/error-schema.js";
import { Epoch, EVENT_SCHEMAS, Seq } from "../core/events-schema.js";
import { DEFAULT_MAX_TEXT, MessageSchema, sendFields } from "../core/message-schema.js";
import { MessageId, UserId } from "../core/schema-kit.js";

export const MAX_REF = 64;
const Ref = Type.String({
  maxLength: MAX_REF,
  description: "Chosen by the client; the op's result or error frame carries it back.",
  errorMessage: `must be a string of at most ${MAX_REF} characters`,
});
const closed = { additionalProperties: false } as const;

export function sendFrameSchema(maxText = DEFAULT_MAX_TEXT) {
  return Type.Object(
    { op: Type.Literal("send"), ref: Type.Optional(Ref), ...sendFields(maxText) },
    { ...closed, title: "SendOp", description: "Sends a message; answered with a result carrying it." },
  );
}

export const ReadOpSchema = Type.Object(
  {
    op: Type.Literal("read"),
    ref: Type.Optional(Ref),
    peer: UserId("Whose messages were read."),
    upTo: MessageId("The newest message read."),
  },
  {
    ...closed,
    title: "ReadOp",
    description: "Marks peer's messages read up to upTo; peer gets a read event.",
  },
);

export const TypingOpSchema = Type.Object(
  { op: Type.Literal("typing"), ref: Type.Optional(Ref), to: UserId("Who sees the typing event.") },
  { ...closed, title: "TypingOp", description: "`to` gets a typing event." },
);

export const PingOpSchema = Type.Object(
  { op: Type.Literal("ping"), ref: Type.Optional(Ref) },
  {
    ...closed,
    title: "PingOp",
    description: "Without ref answered {op:pong}; with ref a result carrying pong (ms).",
  },
);

export const DeliveredOpSchema = Type.Object(
  {
    op: Type.Literal("delivered"),
    ref: Type.Optional(Ref),
    peer: UserId("Whose messages reached this device."),
    upTo: MessageId("The newest of them."),
  },
  {
    ...closed,
    title: "DeliveredOp",
    description:
      "Delivery receipt (SPEC 13): peer gets a delivered event once per advance; answered like read.",
  },
);

/** Client to server, by op. */
export function clientFrames(maxText = DEFAULT_MAX_TEXT): Record<string, TSchema> {
  return {
    send: sendFrameSchema(maxText),
    read: ReadOpSchema,
    typing: TypingOpSchema,
    ping: PingOpSchema,
    delivered: DeliveredOpSchema,
  };
}

const RefOut = Type.String({ maxLength: MAX_REF, description: "The ref of the op answered." });

export const HelloFrameSchema = Type.Object(
  { op: Type.Literal("hello"), type: Type.Literal("hello"), user: UserId(), epoch: Epoch, seq: Seq },
  { title: "HelloFrame", description: "The stream's hello event, first frame of every connection." },
);

/** `{"op":"event", ...event}`: every event type but hello, flat, with `op` added. */
export function eventFrameSchema(type: keyof typeof EVENT_SCHEMAS): TSchema {
  const event = EVENT_SCHEMAS[type] as TSchema & { properties: Record<string, TSchema>; required?: string[] };
  return Type.Unsafe({
    type: "object",
    title: `${event.title as string}Frame`,
    description: `{"op":"event"} with the ${type} event's fields.`,
    properties: { op: { const: "event", type: "string" }, ...event.properties },
    required: ["op", ...(event.required ?? [])],
  });
}

export const ResultFrameSchema = Type.Object(
  {
    op: Type.Literal("result"),
    ref: RefOut,
    message: Type.Optional(MessageSchema),
    upTo: Type.Optional(Type.Union([MessageId(), Type.Null()])),
    pong: Type.Optional(Type.Integer({ description: "Server time in ms (answer to a ping with a ref)." })),
  },
  {
    title: "ResultFrame",
    description:
      "The answer to an op with a ref: send gets message, read gets upTo, ping gets pong, typing nothing more.",
  },
);

export const PongFrameSchema = Type.Object(
  { op: Type.Literal("pong") },
  { title: "PongFrame", description: "The answer to a ping without ref." },
);

export const ErrorFrameSchema = Type.Object(
  { op: Type.Literal("error"), ref: Type.Optional(RefOut), error: ErrorObjectSchema },
  { title: "ErrorFrame", description: "An op failed, or a frame was not a valid op (then without ref)." },
);

/** Server to client, by name. */
export function serverFrames(): Record<string, TSchema> {
  const events: Record<string, TSchema> = {};
  for (const type of Object.keys(EVENT_SCHEMAS) as (keyof typeof EVENT_SCHEMAS)[]) {
    if (type !== "hello") events[`${type}Event`] = eventFrameSchema(type);
  }
  return {
    hello: HelloFrameSchema,
    ...events,
    result: ResultFrameSchema,
    pong: PongFrameSchema,
    error: ErrorFrameSchema,
  };
}
