import type { Chat } from "../core/chat.js";
import { DuetError } from "../core/errors.js";
import type { ConversationSummary } from "../core/types.js";
import { asObject, intParam, isUserId, messageId, onlyKeys, sendInput, userId } from "../core/validate.js";
import { readJson } from "./body.js";
import { sendJson, sendRawJson } from "./respond.js";
import type { RouteContext, Router } from "./router.js";

export interface UserRouteDeps {
  chat: Chat;
  maxTextLength: number;
  bodyLimit: number;
  /** The conversation list, when another part adds to chat's (SPEC 13's receipts and mute). */
  conversations?(user: string, limit: number, before?: number): Promise<ConversationSummary[]>;
  /** Resolves the authenticated user of a request (Bearer only). */
  user(ctx: RouteContext): Promise<string>;
}

/** SPEC section 4: the user's HTTP API. */
export function userRoutes(router: Router, deps: UserRouteDeps): void {
  const { chat } = deps;

  router.on("POST", "/v1/messages", async (ctx) => {
    const from = await deps.user(ctx);
    const body = await readJson(ctx.req, deps.bodyLimit);
    const { message, duplicate, json } = await chat.send(sendInput(from, body, deps.maxTextLength));
    sendRawJson(ctx.res, duplicate ? 200 : 201, `{"message":${json ?? JSON.stringify(message)}}`);
  });

  router.on("GET", "/v1/conversations", async (ctx) => {
    const user = await deps.user(ctx);
    const q = ctx.url.searchParams;
    const limit = intParam(q.get("limit"), "limit", 50, 1, 200);
    const before = q.has("before")
      ? intParam(q.get("before"), "before", 0, 0, Number.MAX_SAFE_INTEGER)
      : undefined;
    const list = deps.conversations ?? ((u, l, b) => chat.conversations(u, l, b));
    sendJson(ctx.res, 200, { conversations: await list(user, limit, before) });
  });

  router.on("GET", "/v1/conversations/:peer/messages", async (ctx) => {
    const user = await deps.user(ctx);
    const peer = userId(ctx.params.peer, "peer");
    const q = ctx.url.searchParams;
    const query: { before?: string; after?: string; limit: number } = {
      limit: intParam(q.get("limit"), "limit", 50, 1, 200),
    };
    if (q.has("before")) query.before = messageId(q.get("before"), "before");
    if (q.has("after")) query.after = messageId(q.get("after"), "after");
    sendJson(ctx.res, 200, await chat.history(user, peer, query));
  });

  router.on("GET", "/v1/conversations/:peer/unread", async (ctx) => {
    const user = await deps.user(ctx);
    const peer = userId(ctx.params.peer, "peer");
    const q = ctx.url.searchParams;
    const limit = intParam(q.get("limit"), "limit", 20, 1, 200);
    const markRead = q.get("markRead");
    if (markRead !== null && markRead !== "true" && markRead !== "false") {
      throw new DuetError("invalid_input", "markRead must be true or false.");
    }
    sendJson(ctx.res, 200, { messages: await chat.readUnread(user, peer, limit, markRead !== "false") });
  });

  router.on("POST", "/v1/conversations/:peer/read", async (ctx) => {
    const user = await deps.user(ctx);
    const peer = userId(ctx.params.peer, "peer");
    const body = asObject(await readJson(ctx.req, deps.bodyLimit));
    onlyKeys(body, ["upTo"], "the body");
    const upTo = messageId(body.upTo, "upTo");
    sendJson(ctx.res, 200, await chat.markRead(user, peer, upTo));
  });

  router.on("POST", "/v1/typing", async (ctx) => {
    const user = await deps.user(ctx);
    const body = asObject(await readJson(ctx.req, deps.bodyLimit));
    onlyKeys(body, ["to"], "the body");
    await chat.typing(user, userId(body.to, "to"));
    sendJson(ctx.res, 200, { ok: true });
  });

  router.on("GET", "/v1/blocks", async (ctx) => {
    const user = await deps.user(ctx);
    sendJson(ctx.res, 200, { blocks: await chat.blocks(user) });
  });

  router.on("PUT", "/v1/blocks/:user", async (ctx) => {
    const user = await deps.user(ctx);
    await chat.block(user, userId(ctx.params.user));
    sendJson(ctx.res, 200, { blocks: await chat.blocks(user) });
  });

  router.on("DELETE", "/v1/blocks/:user", async (ctx) => {
    const user = await deps.user(ctx);
    await chat.unblock(user, userId(ctx.params.user));
    sendJson(ctx.res, 200, { blocks: await chat.blocks(user) });
  });

  router.on("GET", "/v1/presence", async (ctx) => {
    const viewer = await deps.user(ctx);
    const raw = ctx.url.searchParams.get("users") ?? "";
    const users = [...new Set(raw.split(",").filter((u) => u !== ""))];
    if (users.length === 0 || users.length > 100 || !users.every(isUserId)) {
      throw new DuetError("invalid_input", "users must be 1-100 comma-separated user ids.");
    }
    sendJson(ctx.res, 200, { presence: await chat.presenceFor(viewer, users) });
  });
}
