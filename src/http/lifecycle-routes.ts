import type { IncomingMessage } from "node:http";
import { DuetError } from "../core/errors.js";
import { type Lifecycle, settingsPatch } from "../core/lifecycle.js";
import { emoji } from "../core/lifecycle-rules.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";
import { route } from "./schemas/index.js";
import { lifecycleApi } from "./schemas/lifecycle.js";

export interface LifecycleRouteDeps {
  lifecycle: Lifecycle;
  maxTextLength: number;
  bodyLimit: number;
  user(ctx: RouteContext): Promise<string>;
}

/** A body that may be left out (`PUT …/mute`): none at all reads as `{}`. */
function optionalJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const length = req.headers["content-length"];
  if (length === "0" || (length === undefined && req.headers["transfer-encoding"] === undefined))
    return Promise.resolve({});
  return readJson(req, limit);
}

/** SPEC 13: edit, unsend, reactions, delivery receipts, settings and mute. */
export function lifecycleRoutes(router: Router, deps: LifecycleRouteDeps): void {
  const { lifecycle } = deps;
  // The schemas (schemas/lifecycle.ts) check the shapes; the checks below what they cannot say.
  const api = lifecycleApi(deps.maxTextLength);

  route(router, api.edit, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { id } = v.params(ctx);
    const { text } = v.body(await readJson(ctx.req, deps.bodyLimit));
    sendJson(ctx.res, 200, { message: await lifecycle.edit(user, id, text) });
  });

  route(router, api.unsend, async (ctx, v) => {
    const user = await deps.user(ctx);
    sendJson(ctx.res, 200, { message: await lifecycle.unsend(user, v.params(ctx).id) });
  });

  const react = async (
    ctx: RouteContext,
    { id, emoji: value }: { id: string; emoji: string },
    on: boolean,
  ) => {
    const user = await deps.user(ctx);
    sendJson(ctx.res, 200, { message: await lifecycle.react(user, id, emoji(value), on) });
  };
  route(router, api.react, (ctx, v) => react(ctx, v.params(ctx), true));
  route(router, api.unreact, (ctx, v) => react(ctx, v.params(ctx), false));

  route(router, api.delivered, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { peer } = v.params(ctx);
    const { upTo } = v.body(await readJson(ctx.req, deps.bodyLimit));
    sendJson(ctx.res, 200, await lifecycle.delivered(user, peer, upTo));
  });

  route(router, api.settings, async (ctx) => {
    const user = await deps.user(ctx);
    sendJson(ctx.res, 200, { settings: await lifecycle.settings(user) });
  });

  route(router, api.updateSettings, async (ctx, v) => {
    const user = await deps.user(ctx);
    const patch = settingsPatch(v.body(await readJson(ctx.req, deps.bodyLimit)));
    sendJson(ctx.res, 200, { settings: await lifecycle.updateSettings(user, patch) });
  });

  route(router, api.mute, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { peer } = v.params(ctx);
    const body = v.body(await optionalJson(ctx.req, deps.bodyLimit));
    let until: number | null = null;
    if (body.until !== undefined && body.until !== null) {
      if (typeof body.until !== "number" || !Number.isSafeInteger(body.until) || body.until <= Date.now())
        throw new DuetError("invalid_input", "until must be a time in ms in the future, or left out.");
      until = body.until;
    }
    await lifecycle.mute(user, peer, until);
    sendJson(ctx.res, 200, { peer, muted: true, until });
  });

  route(router, api.unmute, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { peer } = v.params(ctx);
    await lifecycle.unmute(user, peer);
    sendJson(ctx.res, 200, { peer, muted: false, until: null });
  });
}
