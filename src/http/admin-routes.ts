import type { Auth } from "../core/auth.js";
import type { Chat } from "../core/chat.js";
import { DuetError } from "../core/errors.js";
import { asObject, onlyKeys, SYSTEM_USER, systemInput, userId } from "../core/validate.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { Router } from "./router.js";

export interface AdminRouteDeps {
  chat: Chat;
  auth: Auth;
  apiKey: string | undefined;
  maxTextLength: number;
  bodyLimit: number;
  /** Extra figures for /v1/admin/stats (nodes, from the store's cluster view). */
  stats(): Promise<Record<string, unknown>>;
}

const MAX_TTL = 30 * 86_400;

/** Parses `{user, ttlSeconds?}` and mints a token: shared by the server API and dev mode. */
export async function mintFromBody(auth: Auth, body: unknown, defaultTtl: number) {
  const obj = asObject(body);
  onlyKeys(obj, ["user", "ttlSeconds"], "the body");
  const user = userId(obj.user);
  if (user === SYSTEM_USER) throw new DuetError("invalid_input", "No token may act as the system user.");
  let ttl = defaultTtl;
  if (obj.ttlSeconds !== undefined) {
    if (
      typeof obj.ttlSeconds !== "number" ||
      !Number.isInteger(obj.ttlSeconds) ||
      obj.ttlSeconds < 1 ||
      obj.ttlSeconds > MAX_TTL
    ) {
      throw new DuetError("invalid_input", `ttlSeconds must be an integer from 1 to ${MAX_TTL}.`);
    }
    ttl = obj.ttlSeconds;
  }
  return { user, ...(await auth.mint(user, ttl)) };
}

/** SPEC section 7: the app backend's API. */
export function adminRoutes(router: Router, deps: AdminRouteDeps): void {
  const { chat } = deps;

  router.on("POST", "/v1/admin/messages", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const body = await readJson(ctx.req, deps.bodyLimit);
    const { message, duplicate } = await chat.sendSystem(systemInput(body, deps.maxTextLength));
    sendJson(ctx.res, duplicate ? 200 : 201, { message });
  });

  router.on("POST", "/v1/admin/tokens", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    sendJson(ctx.res, 201, await mintFromBody(deps.auth, await readJson(ctx.req, deps.bodyLimit), 3600));
  });

  router.on("POST", "/v1/admin/users/:user/disconnect", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const user = userId(ctx.params.user);
    chat.disconnect(user);
    sendJson(ctx.res, 200, { ok: true });
  });

  router.on("GET", "/v1/admin/stats", async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const [messages, extra] = await Promise.all([chat.store.countMessages(), deps.stats()]);
    sendJson(ctx.res, 200, { connections: chat.hub.connectionsByTransport(), messages, ...extra });
  });
}
