import type { IncomingMessage } from "node:http";
import { DuetError } from "../core/errors.js";
import { type Lifecycle, settingsPatch } from "../core/lifecycle.js";
import { emoji } from "../core/lifecycle-rules.js";
import { asObject, messageId, onlyKeys, text, userId } from "../core/validate.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";

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

  router.on("PATCH", "/v1/messages/:id", async (ctx) => {
    const user = await deps.user(ctx);
    const id = messageId(ctx.params.id, "id");
    const body = asObject(await readJson(ctx.req, deps.bodyLimit));
    onlyKeys(body, ["text"], "the body");
    const value = text(body.text, deps.maxTextLength, true) as string;
    sendJson(ctx.res, 200, { message: await lifecycle.edit(user, id, value) });
  });

  router.on("DELETE", "/v1/messages/:id", async (ctx) => {
    const user = await deps.user(ctx);
    const id = messageId(ctx.params.id, "id");
    sendJson(ctx.res, 200, { message: await lifecycle.unsend(user, id) });
  });

  const react = (on: boolean) => async (ctx: RouteContext) => {
    const user = await deps.user(ctx);
    const id = messageId(ctx.params.id, "id");
    sendJson(ctx.res, 200, { message: await lifecycle.react(user, id, emoji(ctx.params.emoji), on) });
  };
  router.on("PUT", "/v1/messages/:id/reactions/:emoji", react(true));
  router.on("DELETE", "/v1/messages/:id/reactions/:emoji", react(false));

  router.on("POST", "/v1/conversations/:peer/delivered", async (ctx) => {
    const user = await deps.user(ctx);
    const peer = userId(ctx.params.peer, "peer");
    const body = asObject(await readJson(ctx.req, deps.bodyLimit));
    onlyKeys(body, ["upTo"], "the body");
    sendJson(ctx.res, 200, await lifecycle.delivered(user, peer, messageId(body.upTo, "upTo")));
  });

  router.on("GET", "/v1/settings", async (ctx) => {
    const user = await deps.user(ctx);
    sendJson(ctx.res, 200, { settings: await lifecycle.settings(user) });
  });

  router.on("PATCH", "/v1/settings", async (ctx) => {
    const user = await deps.user(ctx);
    const patch = settingsPatch(asObject(await readJson(ctx.req, deps.bodyLimit)));
    sendJson(ctx.res, 200, { settings: await lifecycle.updateSettings(user, patch) });
  });

  router.on("PUT", "/v1/conversations/:peer/mute", async (ctx) => {
    const user = await deps.user(ctx);
    const peer = userId(ctx.params.peer, "peer");
    const body = asObject(await optionalJson(ctx.req, deps.bodyLimit));
    onlyKeys(body, ["until"], "the body");
    let until: number | null = null;
    if (body.until !== undefined && body.until !== null) {
      if (typeof body.until !== "number" || !Number.isSafeInteger(body.until) || body.until <= Date.now())
        throw new DuetError("invalid_input", "until must be a time in ms in the future, or left out.");
      until = body.until;
    }
    await lifecycle.mute(user, peer, until);
    sendJson(ctx.res, 200, { peer, muted: true, until });
  });

  router.on("DELETE", "/v1/conversations/:peer/mute", async (ctx) => {
    const user = await deps.user(ctx);
    const peer = userId(ctx.params.peer, "peer");
    await lifecycle.unmute(user, peer);
    sendJson(ctx.res, 200, { peer, muted: false, until: null });
  });
}
