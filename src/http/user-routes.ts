import type { Chat } from "../core/chat.js";
import { DuetError } from "../core/errors.js";
import type { ConversationSummary } from "../core/types.js";
import { checkSend, isUserId } from "../core/validate.js";
import { readJson } from "./body.js";
import { sendJson, sendRawJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";
import { route } from "./schemas/index.js";
import { userApi } from "./schemas/user.js";

export interface UserRouteDeps {
  chat: Chat;
  maxTextLength: number;
  maxPollSeconds: number;
  bodyLimit: number;
  /** The conversation list, when another part adds to chat's (SPEC 13's receipts and mute). */
  conversations?(user: string, limit: number, before?: number): Promise<ConversationSummary[]>;
  /** Resolves the authenticated user of a request (Bearer only). */
  user(ctx: RouteContext): Promise<string>;
}

/** SPEC section 4: the user's HTTP API; shapes in schemas/user.ts. */
export function userRoutes(router: Router, deps: UserRouteDeps): void {
  const { chat } = deps;
  const api = userApi(deps);

  route(router, api.sendMessage, async (ctx, v) => {
    const from = await deps.user(ctx);
    const body = v.body(await readJson(ctx.req, deps.bodyLimit));
    const { message, duplicate, json } = await chat.send(checkSend(from, body));
    sendRawJson(ctx.res, duplicate ? 200 : 201, `{"message":${json ?? JSON.stringify(message)}}`);
  });

  route(router, api.listConversations, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { limit = 50, before } = v.query(ctx);
    const list = deps.conversations ?? ((u, l, b) => chat.conversations(u, l, b));
    sendJson(ctx.res, 200, { conversations: await list(user, Math.min(limit, 200), before) });
  });

  route(router, api.history, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { peer } = v.params(ctx);
    const { limit = 50, before, after } = v.query(ctx);
    const query: { before?: string; after?: string; limit: number } = { limit: Math.min(limit, 200) };
    if (before !== undefined) query.before = before;
    if (after !== undefined) query.after = after;
    sendJson(ctx.res, 200, await chat.history(user, peer, query));
  });

  route(router, api.readUnread, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { peer } = v.params(ctx);
    const { limit = 20, markRead = true } = v.query(ctx);
    sendJson(ctx.res, 200, { messages: await chat.readUnread(user, peer, Math.min(limit, 200), markRead) });
  });

  route(router, api.markRead, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { peer } = v.params(ctx);
    const { upTo } = v.body(await readJson(ctx.req, deps.bodyLimit));
    sendJson(ctx.res, 200, await chat.markRead(user, peer, upTo));
  });

  route(router, api.typing, async (ctx, v) => {
    const user = await deps.user(ctx);
    const { to } = v.body(await readJson(ctx.req, deps.bodyLimit));
    await chat.typing(user, to);
    sendJson(ctx.res, 200, { ok: true });
  });

  route(router, api.listBlocks, async (ctx) => {
    const user = await deps.user(ctx);
    sendJson(ctx.res, 200, { blocks: await chat.blocks(user) });
  });

  route(router, api.block, async (ctx, v) => {
    const user = await deps.user(ctx);
    await chat.block(user, v.params(ctx).user);
    sendJson(ctx.res, 200, { blocks: await chat.blocks(user) });
  });

  route(router, api.unblock, async (ctx, v) => {
    const user = await deps.user(ctx);
    await chat.unblock(user, v.params(ctx).user);
    sendJson(ctx.res, 200, { blocks: await chat.blocks(user) });
  });

  route(router, api.presence, async (ctx, v) => {
    const viewer = await deps.user(ctx);
    const users = [
      ...new Set(
        v
          .query(ctx)
          .users.split(",")
          .filter((u) => u !== ""),
      ),
    ];
    if (users.length === 0 || users.length > 100 || !users.every(isUserId)) {
      throw new DuetError("invalid_input", "query.users must be 1-100 comma-separated user ids.");
    }
    sendJson(ctx.res, 200, { presence: await chat.presenceFor(viewer, users) });
  });
}
