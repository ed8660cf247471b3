/**
 * Builds the OpenAPI 3.1 document of the HTTP API from the route specs (schemas/): the same
 * schemas the routes validate with. `npm run docs` writes it to docs/openapi.json (with the
 * default limits); a server serves its own at GET /v1/openapi.json (with its configured limits).
 */
import type { TObject } from "@sinclair/typebox";
import { ErrorBodySchema } from "../core/error-schema.js";
import { ERRORS, type ErrorCode } from "../core/errors.js";
import { SchemaExporter } from "../core/schema-export.js";
import { type ApiLimits, allRoutes, DEFAULT_LIMITS, errorsOf, type RouteSpec } from "./schemas/index.js";

const TAGS = [
  { name: "user", description: "The user's HTTP API (SPEC section 4): Authorization: Bearer <user JWT>." },
  {
    name: "events",
    description: "The event stream's endpoints (SPEC section 6); frames and events: docs/asyncapi.json.",
  },
  {
    name: "server",
    description: "The app backend's server API (SPEC section 7): Authorization: Bearer <DUET_API_KEY>.",
  },
  { name: "ops", description: "Health, readiness, metrics, and this document." },
  { name: "dev", description: "Dev mode only (--dev)." },
];

/** `/v1/conversations/:peer/messages` -> `/v1/conversations/{peer}/messages`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

function security(spec: RouteSpec): Record<string, string[]>[] | undefined {
  switch (spec.auth) {
    case "user":
      return [{ userToken: [] }];
    case "userOrQueryToken":
      return [{ userToken: [] }, { queryToken: [] }];
    case "apiKey":
      return [{ apiKey: [] }];
    case "none":
      return [];
  }
}

function parameters(spec: RouteSpec, exporter: SchemaExporter): unknown[] {
  const out: unknown[] = [];
  const add = (where: "path" | "query", schema: TObject | undefined) => {
    if (!schema) return;
    const required = new Set(schema.required ?? []);
    for (const [name, prop] of Object.entries(schema.properties)) {
      const { description, ...rest } = exporter.export(prop) as { description?: string };
      out.push({
        name,
        in: where,
        required: where === "path" || required.has(name),
        ...(description === undefined ? {} : { description }),
        schema: rest,
      });
    }
  };
  add("path", spec.params);
  add("query", spec.query);
  return out;
}

/** An error answer of the given status: the error body with exactly the codes this route uses. */
function errorResponse(codes: ErrorCode[], exporter: SchemaExporter) {
  const retry = codes.some((c) => c === "rate_limited" || ERRORS[c].status === 503);
  return {
    description: codes.map((c) => `\`${c}\``).join(", "),
    ...(retry
      ? {
          headers: {
            "Retry-After": { description: "Seconds to wait, where known.", schema: { type: "integer" } },
          },
        }
      : {}),
    content: {
      "application/json": {
        schema: {
          allOf: [
            exporter.export(ErrorBodySchema),
            { properties: { error: { properties: { code: { enum: codes } } } } },
          ],
        },
      },
    },
  };
}

function operation(spec: RouteSpec, exporter: SchemaExporter): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    const type = response.contentType ?? "application/json";
    responses[status] = {
      description: response.description,
      ...(type === "none"
        ? {}
        : {
            content: {
              [type]: { schema: response.schema ? exporter.export(response.schema) : { type: "string" } },
            },
          }),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorsOf(spec)) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(status)] = errorResponse(codes, exporter);
  }
  const op: Record<string, unknown> = {
    operationId: spec.id,
    tags: [spec.tag],
    summary: spec.summary,
    ...(spec.description === undefined ? {} : { description: spec.description }),
  };
  const params = parameters(spec, exporter);
  if (params.length > 0) op.parameters = params;
  if (spec.body)
    op.requestBody = {
      required: true,
      content: { "application/json": { schema: exporter.export(spec.body) } },
    };
  op.responses = responses;
  const sec = security(spec);
  if (sec !== undefined) op.security = sec;
  if (spec.dev) op["x-dev-only"] = true;
  return op;
}

export function buildOpenApi(limits: ApiLimits = DEFAULT_LIMITS): Record<string, unknown> {
  const exporter = new SchemaExporter();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of allRoutes(limits)) {
    const path = openApiPath(spec.path);
    paths[path] ??= {};
    paths[path][spec.method.toLowerCase()] = operation(spec, exporter);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "duet",
      version: "1",
      summary: "Real-time one-to-one chat server: HTTP API, server API and event-stream endpoints.",
      description:
        "The protocol for people: docs/PROTOCOL.md. The event stream (WebSocket frames, SSE, NDJSON, poll answers, webhooks): docs/asyncapi.json. Errors: docs/ERRORS.md.",
      license: { name: "MIT", identifier: "MIT" },
    },
    tags: TAGS,
    paths,
    components: {
      schemas: exporter.components,
      securitySchemes: {
        userToken: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "A user's JWT (sub = user id).",
        },
        queryToken: {
          type: "apiKey",
          in: "query",
          name: "token",
          description:
            "The user's JWT in the query, for WebSocket and EventSource clients that cannot set headers.",
        },
        apiKey: { type: "http", scheme: "bearer", description: "DUET_API_KEY." },
      },
    },
  };
}

/** The document as served and committed: two-space JSON with a final newline. */
export function openApiJson(limits: ApiLimits = DEFAULT_LIMITS): string {
  return `${JSON.stringify(buildOpenApi(limits), null, 2)}\n`;
}
