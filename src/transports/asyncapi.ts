/**
 * Builds the AsyncAPI 3 document of the event stream (SPEC sections 5 and 6) from the same schemas
 * the server validates with and the tests check frames against: the events (core/events-schema.ts),
 * the WebSocket frames (ws-schema.ts), the poll answer (http/schemas/streams.ts), and the webhooks
 * (each webhook type's `data` from core/webhooks-schema.ts).
 * The document describes duet: `send` operations are what duet sends, `receive` what it accepts.
 * `npm run docs` writes it to docs/asyncapi.json.
 */
import { Type } from "@sinclair/typebox";
import { EVENT_SCHEMAS } from "../core/events-schema.js";
import { DEFAULT_MAX_TEXT } from "../core/message-schema.js";
import { SchemaExporter } from "../core/schema-export.js";
import { WEBHOOK_SCHEMAS } from "../core/webhooks-schema.js";
import { PollAnswerSchema } from "../http/schemas/streams.js";
import { clientFrames, serverFrames } from "./ws-schema.js";

const EXAMPLE_MESSAGE = {
  id: "01JD0Z8Q5T3K6W2M9X4R7B1C0E",
  from: "alice",
  to: "bob",
  ts: 1764172800123,
  kind: "text",
  text: "hi",
  image: null,
  links: [],
  clientMsgId: "a1b2",
};

/** One example per event type (a new event type adds its own). */
const EVENT_EXAMPLES: Record<string, unknown> = {
  hello: { type: "hello", user: "bob", epoch: "3f2a9c1e-5b7d-4e0f-9a61-2c8d4b6e0f13", seq: 11 },
  message: { type: "message", seq: 12, message: EXAMPLE_MESSAGE },
  read: { type: "read", seq: 13, peer: "alice", reader: "alice", upTo: EXAMPLE_MESSAGE.id },
  typing: { type: "typing", from: "alice" },
  reset: { type: "reset", seq: 40, epoch: "3f2a9c1e-5b7d-4e0f-9a61-2c8d4b6e0f13" },
  pair: { type: "pair", seq: 41, peer: "alice", state: "unmatched", historyDeleted: true },
  edit: { type: "edit", seq: 14, message: { ...EXAMPLE_MESSAGE, text: "hi!", editedAt: 1764172830000 } },
  delete: { type: "delete", seq: 15, id: EXAMPLE_MESSAGE.id, peer: "alice" },
  reaction: {
    type: "reaction",
    seq: 16,
    id: EXAMPLE_MESSAGE.id,
    peer: "alice",
    user: "bob",
    emoji: "❤️",
    on: true,
  },
  delivered: { type: "delivered", seq: 17, peer: "alice", upTo: EXAMPLE_MESSAGE.id },
  ttl: { type: "ttl", seq: 18, peer: "alice", seconds: 86400 },
};

const cursorQuery = {
  type: "object",
  properties: {
    since: { type: "string", pattern: "^[0-9]{1,15}$", description: "Resume after this seq." },
    epoch: { type: "string", description: "The epoch since belongs to." },
    token: { type: "string", description: "The user's JWT, for clients that cannot set headers." },
  },
};

function eventMessages(
  exporter: SchemaExporter,
  suffix: string,
  framing: string,
  contentType: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [type, schema] of Object.entries(EVENT_SCHEMAS)) {
    const { description } = schema as { description?: string };
    out[`${type}${suffix}`] = {
      name: type,
      title: `${type} event`,
      summary: description,
      description: framing,
      contentType,
      payload: exporter.export(schema),
      examples: [{ name: type, payload: EVENT_EXAMPLES[type] }],
    };
  }
  return out;
}

export function buildAsyncApi(maxText = DEFAULT_MAX_TEXT): Record<string, unknown> {
  const exporter = new SchemaExporter();
  const messages: Record<string, unknown> = {};
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const refs = (channel: string, names: string[]) =>
    names.map((name) => ({ $ref: `#/channels/${channel}/messages/${name}` }));
  const channelMessages = (names: string[]) =>
    Object.fromEntries(names.map((name) => [name, { $ref: `#/components/messages/${name}` }]));

  // WebSocket: frames both ways.
  const toClient = serverFrames();
  const fromClient = clientFrames(maxText);
  const wsOut: string[] = [];
  const wsIn: string[] = [];
  for (const [name, schema] of Object.entries(toClient)) {
    const key = `ws${name[0]?.toUpperCase()}${name.slice(1)}Frame`;
    const { description } = schema as { description?: string };
    messages[key] = {
      name: key,
      title: `${name} frame`,
      summary: description,
      contentType: "application/json",
      payload: exporter.export(schema),
    };
    wsOut.push(key);
  }
  for (const [op, schema] of Object.entries(fromClient)) {
    const key = `ws${op[0]?.toUpperCase()}${op.slice(1)}Op`;
    const { description } = schema as { description?: string };
    messages[key] = {
      name: key,
      title: `${op} op`,
      summary: description,
      contentType: "application/json",
      payload: exporter.export(schema),
    };
    wsIn.push(key);
  }
  channels.webSocket = {
    address: "/v1/ws",
    title: "WebSocket",
    description:
      'JSON text frames. The server sends {"op":"hello",...} first, then {"op":"event",...event} per event; each op with a ref is answered by a result or error frame with that ref. A flood closes with 1008, an oversized frame with 1009; close codes: docs/ERRORS.md.',
    servers: [{ $ref: "#/servers/ws" }],
    messages: channelMessages([...wsOut, ...wsIn]),
    bindings: { ws: { method: "GET", query: cursorQuery } },
  };
  operations.sendWebSocketFrames = {
    action: "send",
    channel: { $ref: "#/channels/webSocket" },
    summary: "Frames duet sends on a WebSocket: hello, events, results, pongs, errors.",
    messages: refs("webSocket", wsOut),
  };
  operations.receiveWebSocketOps = {
    action: "receive",
    channel: { $ref: "#/channels/webSocket" },
    summary: "Ops a client sends on a WebSocket: send, read, typing, ping.",
    messages: refs("webSocket", wsIn),
  };

  // SSE and NDJSON: the events as they are, framed per transport.
  const sse = eventMessages(
    exporter,
    "Sse",
    "An SSE event: `id: <seq>` (stored events only) and `data: <this JSON>`, then a blank line. A `: ping` comment every 15 s.",
    "text/event-stream",
  );
  const ndjson = eventMessages(
    exporter,
    "Ndjson",
    'One line of NDJSON: this JSON and "\\n". A {"type":"ping"} line every 15 s.',
    "application/x-ndjson",
  );
  Object.assign(messages, sse, ndjson);
  messages.ndjsonPing = {
    name: "ping",
    title: "ping line",
    summary: "A keep-alive line, not an event.",
    contentType: "application/x-ndjson",
    payload: exporter.export(Type.Object({ type: Type.Literal("ping") }, { additionalProperties: false })),
  };
  channels.serverSentEvents = {
    address: "/v1/events",
    title: "Server-Sent Events",
    description: "GET with Authorization: Bearer (or ?token=); resumes from Last-Event-ID or ?since=&epoch=.",
    servers: [{ $ref: "#/servers/http" }],
    messages: channelMessages(Object.keys(sse)),
    bindings: { http: { method: "GET", query: cursorQuery } },
  };
  operations.sendServerSentEvents = {
    action: "send",
    channel: { $ref: "#/channels/serverSentEvents" },
    summary: "The user's events as an SSE stream.",
    messages: refs("serverSentEvents", Object.keys(sse)),
  };
  channels.ndjsonStream = {
    address: "/v1/stream",
    title: "HTTP streaming (NDJSON)",
    description: "GET; a chunked application/x-ndjson response held open, one event per line, hello first.",
    servers: [{ $ref: "#/servers/http" }],
    messages: channelMessages([...Object.keys(ndjson), "ndjsonPing"]),
    bindings: { http: { method: "GET", query: cursorQuery } },
  };
  operations.sendNdjsonStream = {
    action: "send",
    channel: { $ref: "#/channels/ndjsonStream" },
    summary: "The user's events as NDJSON lines.",
    messages: refs("ndjsonStream", [...Object.keys(ndjson), "ndjsonPing"]),
  };

  // Polling: one answer per request.
  messages.pollAnswer = {
    name: "pollAnswer",
    title: "poll answer",
    summary: "The events after since (at most 500), the next cursor and the epoch.",
    contentType: "application/json",
    payload: exporter.export(PollAnswerSchema),
    examples: [
      {
        name: "events",
        payload: { events: [EVENT_EXAMPLES.message], seq: 12, epoch: "3f2a9c1e-5b7d-4e0f-9a61-2c8d4b6e0f13" },
      },
    ],
  };
  channels.poll = {
    address: "/v1/poll",
    title: "Long-polling and short polling",
    description:
      "GET ?since=&epoch=&timeout= (0: short poll). Answers as soon as there is an event after since, or empty at timeout.",
    servers: [{ $ref: "#/servers/http" }],
    messages: channelMessages(["pollAnswer"]),
    bindings: {
      http: {
        method: "GET",
        query: {
          ...cursorQuery,
          properties: { ...cursorQuery.properties, timeout: { type: "string", pattern: "^[0-9]{1,15}$" } },
        },
      },
    },
  };
  operations.answerPoll = {
    action: "send",
    channel: { $ref: "#/channels/poll" },
    summary: "A poll's answer.",
    messages: refs("poll", ["pollAnswer"]),
  };

  // Webhooks: duet POSTs to the app backend (SPEC section 14).
  const webhookNames: string[] = [];
  for (const [type, data] of Object.entries(WEBHOOK_SCHEMAS)) {
    const key = `webhook_${type.replace(/[^A-Za-z0-9]/g, "_")}`;
    messages[key] = {
      name: type,
      title: `${type} webhook`,
      contentType: "application/json",
      headers: exporter.export(WebhookHeaders),
      payload: exporter.export(
        Type.Object({ type: Type.Literal(type), timestamp: Type.String({ format: "date-time" }), data }),
      ),
    };
    webhookNames.push(key);
  }
  channels.webhooks = {
    address: "{webhookUrl}",
    title: "Webhooks",
    description:
      "duet POSTs Standard Webhooks 1.0 requests ({type, timestamp, data}, signed with webhook-id, webhook-timestamp and webhook-signature) to DUET_WEBHOOK_URL. The types are listed here as they land; docs/PROTOCOL.md has the details.",
    parameters: { webhookUrl: { description: "DUET_WEBHOOK_URL, the app backend's receiver." } },
    servers: [{ $ref: "#/servers/appBackend" }],
    messages: channelMessages(webhookNames),
  };
  operations.sendWebhooks = {
    action: "send",
    channel: { $ref: "#/channels/webhooks" },
    summary: "Webhooks duet delivers, at least once, to the app backend.",
    messages: refs("webhooks", webhookNames),
  };

  return {
    asyncapi: "3.1.0",
    info: {
      title: "duet event stream",
      version: "1",
      description:
        "Everything that happens to a user reaches each of its connections as events, on whichever transport the client picked; and webhooks reach the app backend. For people: docs/PROTOCOL.md. The HTTP API: docs/openapi.json.",
      license: { name: "MIT" },
    },
    defaultContentType: "application/json",
    servers: {
      ws: { host: "localhost:8080", protocol: "ws", description: "A duet server (wss behind TLS)." },
      http: { host: "localhost:8080", protocol: "http", description: "A duet server (https behind TLS)." },
      appBackend: {
        host: "app-backend.example",
        protocol: "https",
        description: "The app backend's webhook receiver.",
      },
    },
    channels,
    operations,
    components: { schemas: exporter.components, messages },
  };
}

const WebhookHeaders = Type.Object(
  {
    "webhook-id": Type.String({ description: "The same on every retry of one webhook." }),
    "webhook-timestamp": Type.String({ description: "Unix seconds." }),
    "webhook-signature": Type.String({ description: "v1,<base64 HMAC-SHA256 of id.timestamp.body>." }),
  },
  { title: "WebhookHeaders" },
);

export function asyncApiJson(maxText = DEFAULT_MAX_TEXT): string {
  return `${JSON.stringify(buildAsyncApi(maxText), null, 2)}\n`;
}
