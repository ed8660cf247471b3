import type { Disappearing } from "../core/disappearing.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";
import { expiryApi } from "./schemas/expiry.js";
import { route } from "./schemas/index.js";

export interface ExpiryRouteDeps {
  disappearing: Disappearing;
  bodyLimit: number;
  user(ctx: RouteContext): Promise<string>;
}

/** SPEC 15: PUT /v1/conversations/:peer/ttl. */
export function expiryRoutes(router: Router, deps: ExpiryRouteDeps): void {
  const api = expiryApi();
  route(router, api.setTtl, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { peer } = v.params(ctx);
    const { seconds } = v.body(await readJson(ctx.req, deps.bodyLimit));
    // The schema checks the type and range; setTtl also refuses 1-59 (the per-conversation floor).
    sendJson(ctx.res, 200, await deps.disappearing.setTtl(user, peer, seconds));
  });
}
