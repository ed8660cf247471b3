import type { Ban, BanService } from "../core/bans.js";
import { DuetError } from "../core/errors.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { Router } from "./router.js";
import { bansApi } from "./schemas/bans.js";
import { route } from "./schemas/index.js";

export interface BanRouteDeps {
  bans: BanService;
  apiKey: string | undefined;
  bodyLimit: number;
}

/** A validated `{reason?, until?}` as a ban: `until` must be in the future (the schema has the rest). */
export function banInput(body: { reason?: string | null; until?: number | null }, now = Date.now()): Ban {
  const until = body.until ?? null;
  if (until !== null && until <= now)
    throw new DuetError(
      "invalid_input",
      "body.until must be a future time in ms since the epoch (an integer).",
    );
  return { reason: body.reason ?? null, until };
}

/** SPEC section 12: bans through the server API; shapes in schemas/bans.ts. */
export function banRoutes(router: Router, deps: BanRouteDeps): void {
  const { bans } = deps;
  const api = bansApi();

  route(router, api.ban, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { user } = v.params(ctx);
    const length = ctx.req.headers["content-length"];
    const hasBody =
      ctx.req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
    const ban = hasBody
      ? banInput(v.body(await readJson(ctx.req, deps.bodyLimit)))
      : { reason: null, until: null };
    await bans.ban(user, ban);
    sendJson(ctx.res, 200, { user, banned: ban });
  });

  route(router, api.unban, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { user } = v.params(ctx);
    await bans.unban(user);
    sendJson(ctx.res, 200, { user, banned: null });
  });

  route(router, api.show, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { user } = v.params(ctx);
    sendJson(ctx.res, 200, { user, banned: await bans.banOf(user) });
  });
}
