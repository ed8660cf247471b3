import type { IncomingMessage } from "node:http";
import type { Chat } from "../core/chat.js";
import { pairIds } from "../core/pairs.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";
import { route } from "./schemas/index.js";
import { pairsApi } from "./schemas/pairs.js";

export interface PairRouteDeps {
  chat: Chat;
  apiKey: string | undefined;
  bodyLimit: number;
  /** The authenticated user of a request. */
  user(ctx: RouteContext): Promise<string>;
}

/** A body that may be absent altogether (no Content-Length or 0, and not chunked). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/** SPEC section 11: the server API's pairs, and a user's unmatch; shapes in schemas/pairs.ts. */
export function pairRoutes(router: Router, deps: PairRouteDeps): void {
  const { chat } = deps;
  const api = pairsApi();

  route(router, api.match, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { a: first, b: second } = v.params(ctx);
    const [a, b] = pairIds(first, second);
    const screen = hasBody(ctx.req) ? v.body(await readJson(ctx.req, deps.bodyLimit)).screen : undefined;
    const { pair, created } = await chat.pairs.match(a, b, screen);
    sendJson(ctx.res, created ? 201 : 200, { pair });
  });

  route(router, api.list, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    sendJson(ctx.res, 200, { pairs: await chat.pairs.pairsOf(v.params(ctx).user) });
  });

  route(router, api.unmatch, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { a: first, b: second } = v.params(ctx);
    const [a, b] = pairIds(first, second);
    await chat.pairs.unmatch(a, b, v.query(ctx).history !== "keep");
    sendJson(ctx.res, 200, { ok: true });
  });

  route(router, api.unmatchMine, async (ctx, v) => {
    const user = await deps.user(ctx);
    const [a, b] = pairIds(user, v.params(ctx).peer);
    await chat.pairs.unmatch(a, b, v.query(ctx).history !== "keep");
    sendJson(ctx.res, 200, { ok: true });
  });
}
