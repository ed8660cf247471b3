import type { Chat } from "../core/chat.js";
import { reportInput, resolveInput } from "../core/safety/reports.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";
import { route } from "./schemas/index.js";
import { reportsApi } from "./schemas/reports.js";

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
  const api = reportsApi();

  // The schemas (schemas/reports.ts) check the shapes; reportInput/resolveInput the rest (and
  // normalise: ids deduplicated and sorted, an empty note as none).
  route(router, api.file, async (ctx, v) => {
    const reporter = await deps.user(ctx);
    const input = reportInput(reporter, v.body(await readJson(ctx.req, deps.bodyLimit)));
    sendJson(ctx.res, 201, { report: await chat.reports.file(reporter, input) });
  });

  route(router, api.list, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { status = "open", limit = 50, before } = v.query(ctx);
    sendJson(ctx.res, 200, { reports: await chat.reports.list(status, Math.min(limit, 200), before) });
  });

  route(router, api.resolve, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { id } = v.params(ctx);
    const action = hasBody(ctx) ? resolveInput(v.body(await readJson(ctx.req, deps.bodyLimit))) : null;
    sendJson(ctx.res, 200, { report: await chat.reports.resolve(id, action) });
  });
}
