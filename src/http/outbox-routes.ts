import type { Outbox, OutboxEntry } from "../core/ports/outbox.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { Router } from "./router.js";
import { route } from "./schemas/index.js";
import { webhooksApi } from "./schemas/webhooks.js";

export interface OutboxRouteDeps {
  outbox: Outbox;
  apiKey: string | undefined;
  bodyLimit: number;
}

function shown(entry: OutboxEntry) {
  let data: unknown = null;
  try {
    data = JSON.parse(entry.data);
  } catch {
    data = null;
  }
  return { id: entry.id, type: entry.type, attempts: entry.attempts, lastError: entry.lastError, data };
}

/** SPEC section 14: the failed webhooks, listed and resent by the app backend; shapes in schemas/webhooks.ts. */
export function outboxRoutes(router: Router, deps: OutboxRouteDeps): void {
  const api = webhooksApi();

  route(router, api.listFailed, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { limit = 100 } = v.query(ctx);
    const failed = await deps.outbox.listFailed(Math.min(limit, 1000));
    sendJson(ctx.res, 200, { failed: failed.map(shown) });
  });

  route(router, api.retryFailed, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { ids } = v.body(await readJson(ctx.req, deps.bodyLimit));
    const retried = await deps.outbox.retryFailed(ids);
    sendJson(ctx.res, 200, { retried });
  });
}
