import { DuetError } from "../core/errors.js";
import type { Outbox, OutboxEntry } from "../core/ports/outbox.js";
import { asObject, intParam, onlyKeys } from "../core/validate.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { Router } from "./router.js";

export interface OutboxRouteDeps {
  outbox: Outbox;
  apiKey: string | undefined;
  bodyLimit: number;
}

const ENTRY_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

function shown(entry: OutboxEntry) {
  let data: unknown = null;
  try {
    data = JSON.parse(entry.data);
  } catch {
    data = null;
  }
  return { id: entry.id, type: entry.type, attempts: entry.attempts, lastError: entry.lastError, data };
}

/** SPEC section 14: the failed webhooks, listed and resent by the app backend. */
export function outboxRoutes(router: Router, deps: OutboxRouteDeps): void {
  router.on("GET", "/v1/admin/webhooks/failed", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const limit = intParam(ctx.url.searchParams.get("limit"), "limit", 100, 1, 1000);
    const failed = await deps.outbox.listFailed(limit);
    sendJson(ctx.res, 200, { failed: failed.map(shown) });
  });

  router.on("POST", "/v1/admin/webhooks/failed/retry", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const body = asObject(await readJson(ctx.req, deps.bodyLimit));
    onlyKeys(body, ["ids"], "the body");
    let ids: string[] | undefined;
    if (body.ids !== undefined) {
      if (!Array.isArray(body.ids) || body.ids.length > 1000)
        throw new DuetError("invalid_input", "ids must be an array of at most 1000 webhook ids.");
      ids = body.ids.map((id) => {
        if (typeof id !== "string" || !ENTRY_ID.test(id))
          throw new DuetError("invalid_input", "Each id must be a webhook id as the failed list shows it.");
        return id;
      });
    }
    const retried = await deps.outbox.retryFailed(ids);
    sendJson(ctx.res, 200, { retried });
  });
}
