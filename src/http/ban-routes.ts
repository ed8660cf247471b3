import type { Ban, BanService } from "../core/bans.js";
import { DuetError } from "../core/errors.js";
import { asObject, onlyKeys, userId } from "../core/validate.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { Router } from "./router.js";

export interface BanRouteDeps {
  bans: BanService;
  apiKey: string | undefined;
  bodyLimit: number;
}

const MAX_REASON = 500;
/** The largest time a JS Date can hold. */
const MAX_TIME = 8.64e15;

/** `{reason?, until?}`: a reason of 1-500 characters without control characters; `until` a future time in ms. */
export function banInput(body: unknown, now = Date.now()): Ban {
  const obj = asObject(body);
  onlyKeys(obj, ["reason", "until"], "the body");
  const ban: Ban = { reason: null, until: null };
  if (obj.reason !== undefined && obj.reason !== null) {
    if (
      typeof obj.reason !== "string" ||
      obj.reason.length < 1 ||
      obj.reason.length > MAX_REASON ||
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
      /[\u0000-\u001f\u007f]/.test(obj.reason)
    )
      throw new DuetError(
        "invalid_input",
        `reason must be 1-${MAX_REASON} characters without control characters.`,
      );
    ban.reason = obj.reason;
  }
  if (obj.until !== undefined && obj.until !== null) {
    if (
      typeof obj.until !== "number" ||
      !Number.isInteger(obj.until) ||
      obj.until <= now ||
      obj.until > MAX_TIME
    )
      throw new DuetError("invalid_input", "until must be a future time in ms since the epoch (an integer).");
    ban.until = obj.until;
  }
  return ban;
}

/** SPEC section 12: bans through the server API. */
export function banRoutes(router: Router, deps: BanRouteDeps): void {
  const { bans } = deps;

  router.on("PUT", "/v1/admin/users/:user/ban", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const user = userId(ctx.params.user);
    const length = ctx.req.headers["content-length"];
    const hasBody =
      ctx.req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
    const ban = hasBody ? banInput(await readJson(ctx.req, deps.bodyLimit)) : { reason: null, until: null };
    await bans.ban(user, ban);
    sendJson(ctx.res, 200, { user, banned: ban });
  });

  router.on("DELETE", "/v1/admin/users/:user/ban", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const user = userId(ctx.params.user);
    await bans.unban(user);
    sendJson(ctx.res, 200, { user, banned: null });
  });

  router.on("GET", "/v1/admin/users/:user", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const user = userId(ctx.params.user);
    sendJson(ctx.res, 200, { user, banned: await bans.banOf(user) });
  });
}
