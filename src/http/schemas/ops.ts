/** SPEC section 8 (health, readiness, metrics), this document itself, and dev mode's token route. */
import { Type } from "@sinclair/typebox";
import { MintBodySchema, TokenSchema } from "./admin.js";
import { OkSchema } from "./common.js";
import { defineRoute } from "./route.js";

export function opsApi() {
  return {
    healthz: defineRoute({
      id: "healthz",
      method: "GET",
      path: "/healthz",
      tag: "ops",
      auth: "none",
      summary: "The process is alive",
      responses: { 200: { description: "Alive.", schema: OkSchema } },
    }),
    readyz: defineRoute({
      id: "readyz",
      method: "GET",
      path: "/readyz",
      tag: "ops",
      auth: "none",
      summary: "The store is reachable and the process is not shutting down",
      responses: {
        200: {
          description: "Ready.",
          schema: Type.Object({ ok: Type.Literal(true), store: Type.String() }, { title: "Ready" }),
        },
      },
      errors: ["store_unavailable", "shutting_down"],
    }),
    metrics: defineRoute({
      id: "metrics",
      method: "GET",
      path: "/metrics",
      tag: "ops",
      auth: "none",
      summary: "Prometheus metrics",
      responses: { 200: { description: "Prometheus text format.", contentType: "text/plain" } },
    }),
    openapi: defineRoute({
      id: "openapi",
      method: "GET",
      path: "/v1/openapi.json",
      tag: "ops",
      auth: "none",
      summary: "This document (OpenAPI 3.1), with this server's limits",
      responses: {
        200: { description: "The OpenAPI document.", schema: Type.Object({ openapi: Type.String() }) },
      },
    }),
    devToken: defineRoute({
      id: "devToken",
      method: "POST",
      path: "/v1/dev/token",
      tag: "dev",
      auth: "none",
      dev: true,
      summary: "Mint a token for anyone (dev mode only)",
      body: MintBodySchema,
      responses: { 201: { description: "The token.", schema: TokenSchema } },
      errors: ["conflict"],
    }),
  };
}
