/**
 * SPEC section 6: the event-stream endpoints as HTTP routes. Their events are described in the
 * AsyncAPI document (docs/asyncapi.json); here is what HTTP sees of them.
 */
import { Type } from "@sinclair/typebox";
import { DuetEventSchema, Epoch, Seq } from "../../core/events-schema.js";
import { POLL_MAX_EVENTS } from "../../transports/poll.js";
import type { ApiLimits } from "./common.js";
import { defineRoute } from "./route.js";

const cursorFields = {
  since: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: "Resume after this seq: every stored event after it, then live ones. Absent: from now.",
      errorMessage: "must be a non-negative integer",
    }),
  ),
  epoch: Type.Optional(
    Type.String({
      pattern: "^[A-Za-z0-9-]{1,64}$",
      description: "The epoch since belongs to; another epoch gets a reset event.",
      errorMessage: "is not valid",
    }),
  ),
  token: Type.Optional(Type.String({ description: "The user's JWT, for clients that cannot set headers." })),
};

export const PollAnswerSchema = Type.Object(
  {
    events: Type.Array(DuetEventSchema, { maxItems: POLL_MAX_EVENTS }),
    seq: Seq,
    epoch: Epoch,
  },
  {
    title: "PollAnswer",
    description: "seq is the cursor for the next since; a reset arrives inside events.",
  },
);

const streamErrors = ["overloaded", "shutting_down", "too_many_connections", "store_unavailable"] as const;

export function streamApi(limits: ApiLimits) {
  return {
    sse: defineRoute({
      id: "serverSentEvents",
      method: "GET",
      path: "/v1/events",
      tag: "events",
      auth: "userOrQueryToken",
      summary: "The event stream as Server-Sent Events",
      description:
        "Each event is `data: <event JSON>` with `id: <seq>` for stored events; a `: ping` comment every 15 s. Honours Last-Event-ID (it wins over since). See docs/asyncapi.json and docs/PROTOCOL.md.",
      query: Type.Object(cursorFields),
      responses: { 200: { description: "The stream, held open.", contentType: "text/event-stream" } },
      errors: [...streamErrors],
    }),
    ndjson: defineRoute({
      id: "ndjsonStream",
      method: "GET",
      path: "/v1/stream",
      tag: "events",
      auth: "userOrQueryToken",
      summary: "The event stream as chunked NDJSON",
      description: 'One event JSON per line, hello first; `{"type":"ping"}` every 15 s.',
      query: Type.Object(cursorFields),
      responses: { 200: { description: "The stream, held open.", contentType: "application/x-ndjson" } },
      errors: [...streamErrors],
    }),
    poll: defineRoute({
      id: "poll",
      method: "GET",
      path: "/v1/poll",
      tag: "events",
      auth: "userOrQueryToken",
      summary: "Long-polling (timeout > 0) or short polling (timeout=0)",
      description: `Answers as soon as there is an event after since, or empty at timeout; at most ${POLL_MAX_EVENTS} events.`,
      query: Type.Object({
        ...cursorFields,
        timeout: Type.Optional(
          Type.Integer({
            minimum: 0,
            default: 25,
            description: `Seconds to hold the request; values above ${limits.maxPollSeconds} count as ${limits.maxPollSeconds}.`,
            errorMessage: "must be a non-negative integer",
          }),
        ),
      }),
      responses: { 200: { description: "The events after since.", schema: PollAnswerSchema } },
      errors: [...streamErrors],
    }),
    ws: defineRoute({
      id: "webSocket",
      method: "GET",
      path: "/v1/ws",
      tag: "events",
      auth: "userOrQueryToken",
      summary: "The WebSocket (upgrade)",
      description: "Frames are described in docs/asyncapi.json. Without an upgrade this answers 400.",
      query: Type.Object(cursorFields),
      responses: { 101: { description: "Switching to the WebSocket protocol.", contentType: "none" } },
      errors: [...streamErrors],
    }),
  };
}
