import type { IncomingMessage } from "node:http";
import type { Chat } from "../core/chat.js";
import { DuetError } from "../core/errors.js";
import { pairIds, pairScreen } from "../core/pairs.js";
import { asObject, onlyKeys, userId } from "../core/validate.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";

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

/** `?history=keep` keeps the conversation; absent (or `delete`) erases it. */
function erases(url: URL): boolean {
  const history = url.searchParams.get("history");
  if (history === null || history === "delete") return true;
  if (history === "keep") return false;
  throw new DuetError("invalid_input", "history must be keep or delete.");
}

/** SPEC section 11: the server API's pairs, and a user's unmatch. */
export function pairRoutes(router: Router, deps: PairRouteDeps): void {
  const { chat } = deps;

  router.on("PUT", "/v1/admin/pairs/:a/:b", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const [a, b] = pairIds(ctx.params.a, ctx.params.b);
    let screen: ReturnType<typeof pairScreen>;
    if (hasBody(ctx.req)) {
      const body = asObject(await readJson(ctx.req, deps.bodyLimit));
      onlyKeys(body, ["screen"], "the body");
      screen = pairScreen(body.screen);
    }
    const { pair, created } = await chat.pairs.match(a, b, screen);
    sendJson(ctx.res, created ? 201 : 200, { pair });
  });

  router.on("GET", "/v1/admin/pairs/:user", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    sendJson(ctx.res, 200, { pairs: await chat.pairs.pairsOf(userId(ctx.params.user)) });
  });

  router.on("DELETE", "/v1/admin/pairs/:a/:b", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const [a, b] = pairIds(ctx.params.a, ctx.params.b);
    await chat.pairs.unmatch(a, b, erases(ctx.url));
    sendJson(ctx.res, 200, { ok: true });
  });

  router.on("DELETE", "/v1/pairs/:peer", async (ctx) => {
    const user = await deps.user(ctx);
    const [a, b] = pairIds(user, userId(ctx.params.peer, "peer"));
    await chat.pairs.unmatch(a, b, erases(ctx.url));
    sendJson(ctx.res, 200, { ok: true });
  });
}
