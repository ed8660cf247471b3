import type { Static } from "@sinclair/typebox";
import type { Auth } from "../core/auth.js";
import type { Chat } from "../core/chat.js";
import { DuetError } from "../core/errors.js";
import { checkSystem, SYSTEM_USER } from "../core/validate.js";
import { requireApiKey } from "./auth.js";
import { readJson } from "./body.js";
import { sendJson } from "./respond.js";
import type { Router } from "./router.js";
import { adminApi, type MintBodySchema } from "./schemas/admin.js";
import { route } from "./schemas/index.js";

export interface AdminRouteDeps {
  chat: Chat;
  auth: Auth;
  apiKey: string | undefined;
  maxTextLength: number;
  maxPollSeconds: number;
  bodyLimit: number;
  /** Extra figures for /v1/admin/stats (nodes, from the store's cluster view). */
  stats(): Promise<Record<string, unknown>>;
}

/** Mints a token for a validated `{user, ttlSeconds?}`: shared by the server API and dev mode. */
export async function mintFromBody(auth: Auth, body: Static<typeof MintBodySchema>, defaultTtl: number) {
  if (body.user === SYSTEM_USER) throw new DuetError("invalid_input", "No token may act as the system user.");
  return { user: body.user, ...(await auth.mint(body.user, body.ttlSeconds ?? defaultTtl)) };
}

/** SPEC section 7: the app backend's API; shapes in schemas/admin.ts. */
export function adminRoutes(router: Router, deps: AdminRouteDeps): void {
  const { chat } = deps;
  const api = adminApi(deps);

  route(router, api.systemMessage, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const body = v.body(await readJson(ctx.req, deps.bodyLimit));
    const { message, duplicate } = await chat.sendSystem(checkSystem(body));
    sendJson(ctx.res, duplicate ? 200 : 201, { message });
  });

  route(router, api.mintToken, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const body = v.body(await readJson(ctx.req, deps.bodyLimit));
    sendJson(ctx.res, 201, await mintFromBody(deps.auth, body, 3600));
  });

  route(router, api.disconnect, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    chat.disconnect(v.params(ctx).user);
    sendJson(ctx.res, 200, { ok: true });
  });

  route(router, api.stats, async (ctx) => {
    requireApiKey(deps.apiKey, ctx.req);
    const [messages, extra] = await Promise.all([chat.countMessages(), deps.stats()]);
    sendJson(ctx.res, 200, { connections: chat.connectionsByTransport(), messages, ...extra });
  });
}
