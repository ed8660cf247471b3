/**
 * A route's contract, and its validators compiled once when the route is registered. The router
 * takes its method and path from the spec, and the OpenAPI document is built from the same specs,
 * so a route cannot validate one shape and document another.
 */
import type { Static, TObject, TSchema } from "@sinclair/typebox";
import type { ErrorCode } from "../../core/errors.js";
import { compile } from "../../core/schema-kit.js";
import type { RequestUrl } from "../request-url.js";
import type { RouteContext, Router } from "../router.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Who may call: a user's JWT, a user's JWT also accepted as ?token=, the server API key, anyone. */
export type AuthKind = "user" | "userOrQueryToken" | "apiKey" | "none";

export interface ResponseSpec {
  description: string;
  /** A JSON body's schema; absent for non-JSON answers (give contentType then). */
  schema?: TSchema;
  /** Default application/json. */
  contentType?: string;
}

export interface RouteSpec {
  /** Unique; the OpenAPI operationId. */
  id: string;
  method: Method;
  /** Router syntax: `/v1/conversations/:peer/messages`. */
  path: string;
  summary: string;
  description?: string;
  /** user (SPEC 4), server (SPEC 7), events (SPEC 6), ops (SPEC 8), dev. */
  tag: "user" | "server" | "events" | "ops" | "dev";
  auth: AuthKind;
  params?: TObject;
  query?: TObject;
  body?: TSchema;
  /** Success answers by status. */
  responses: Record<number, ResponseSpec>;
  /** Error codes (of the registry) this route answers besides those its auth and inputs imply. */
  errors?: ErrorCode[];
  /** Exists only in dev mode. */
  dev?: boolean;
}

type StaticOr<T, Else> = T extends TSchema ? Static<T> : Else;

export interface CompiledRoute<S extends RouteSpec> {
  params(ctx: RouteContext): StaticOr<S["params"], Record<string, never>>;
  query(ctx: RouteContext): StaticOr<S["query"], Record<string, never>>;
  body(value: unknown): StaticOr<S["body"], never>;
}

/** Keeps a spec's literal types (so its validators' return types follow its schemas). */
export function defineRoute<const S extends RouteSpec>(spec: S): S {
  return spec;
}

/**
 * The error codes a route can answer: those listed plus those implied by its auth and inputs.
 * The OpenAPI document lists them per status; the tests check real answers against them.
 */
export function errorsOf(spec: RouteSpec): ErrorCode[] {
  const codes = new Set<ErrorCode>(spec.errors ?? []);
  codes.add("method_not_allowed");
  if (spec.auth === "user" || spec.auth === "userOrQueryToken") {
    codes.add("unauthorized");
    codes.add("token_expired");
    codes.add("user_banned");
    codes.add("user_erased");
  }
  if (spec.auth === "apiKey") {
    codes.add("unauthorized");
    codes.add("not_found"); // the server API is off without DUET_API_KEY
  }
  if (spec.params || spec.query || spec.body) codes.add("invalid_input");
  if (spec.body) {
    for (const code of [
      "invalid_json",
      "invalid_utf8",
      "unsupported_media_type",
      "payload_too_large",
    ] as const)
      codes.add(code);
  }
  return [...codes];
}

/** Query strings are text: integers and booleans the schema declares are converted, strictly. */
function queryConverter(schema: TObject): (url: RequestUrl) => Record<string, unknown> {
  const kinds = Object.entries(schema.properties).map(([name, prop]) => {
    const type = (prop as { type?: unknown }).type;
    return { name, type: type === "integer" || type === "boolean" ? type : "string" };
  });
  return (url) => {
    const out: Record<string, unknown> = {};
    const q = url.searchParams;
    for (const { name, type } of kinds) {
      const raw = q.get(name);
      if (raw === null) continue;
      if (type === "integer") {
        // An empty value is an absent one (`?limit=`); anything but digits stays text and fails.
        if (raw === "") continue;
        out[name] = /^\d{1,15}$/.test(raw) ? Number(raw) : raw;
      } else if (type === "boolean") {
        out[name] = raw === "true" ? true : raw === "false" ? false : raw;
      } else {
        out[name] = raw;
      }
    }
    return out;
  };
}

const none = () => ({});
function noBody(): never {
  throw new Error("this route has no body schema");
}

export function compileRoute<S extends RouteSpec>(spec: S): CompiledRoute<S> {
  const params = spec.params ? compile(spec.params, "params") : undefined;
  const query = spec.query ? compile(spec.query, "query") : undefined;
  const convert = spec.query ? queryConverter(spec.query) : undefined;
  const body = spec.body ? compile(spec.body, "body") : undefined;
  return {
    params: (params ? (ctx: RouteContext) => params(ctx.params) : none) as CompiledRoute<S>["params"],
    query: (query && convert
      ? (ctx: RouteContext) => query(convert(ctx.url))
      : none) as CompiledRoute<S>["query"],
    body: (body ?? noBody) as CompiledRoute<S>["body"],
  };
}

/** Registers `handler` at the spec's method and path with the spec's validators, compiled now. */
export function route<S extends RouteSpec>(
  router: Router,
  spec: S,
  handler: (ctx: RouteContext, v: CompiledRoute<S>) => Promise<void> | void,
): void {
  const compiled = compileRoute(spec);
  router.on(spec.method, spec.path, (ctx) => handler(ctx, compiled), spec);
}
