import type { Chat } from "../core/chat.js";
import { reportId, reportInput, reportStatus, resolveInput } from "../core/safety/reports.js";
import { intParam } from "../core/validate.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";

export interface ReportRouteDeps {
  chat: Chat;
  apiKey: string | undefined;
  bodyLimit: number;
  /** Resolves the authenticated user of a request (Bearer only). */
  user(ctx: RouteContext): Promise<string>;
}

/** A body is optional on resolve: none, or an empty one, is `{}`. */
function hasBody(ctx: RouteContext): boolean {
  const length = ctx.req.headers["content-length"];
  return ctx.req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * SPEC section 12: users file reports; the server API lists and resolves them. There is no user
 * route that lists reports: a user cannot learn who reported them, or that anyone did.
 */
export function reportRoutes(router: Router, deps: ReportRouteDeps): void {
  const { chat } = deps;

  router.on("POST", "/v1/reports", async (ctx) => {
    const reporter = await deps.user(ctx);
    const input = reportInput(reporter, await readJson(ctx.req, deps.bodyLimit));
    sendJson(ctx.res, 201, { report: await chat.reports.file(reporter, input) });
  });

  router.on("GET", "/v1/admin/reports", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const q = ctx.url.searchParams;
    const status = reportStatus(q.get("status"));
    const limit = intParam(q.get("limit"), "limit", 50, 1, 200);
    const before = q.has("before") ? reportId(q.get("before")) : undefined;
    sendJson(ctx.res, 200, { reports: await chat.reports.list(status, limit, before) });
  });

  router.on("POST", "/v1/admin/reports/:id/resolve", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const id = reportId(ctx.params.id);
    const action = hasBody(ctx) ? resolveInput(await readJson(ctx.req, deps.bodyLimit)) : null;
    sendJson(ctx.res, 200, { report: await chat.reports.resolve(id, action) });
  });
}
