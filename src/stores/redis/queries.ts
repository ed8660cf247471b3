import type { EventPage, HistoryQuery } from "../../core/ports/store.js";
import type { ConversationSummary, Message } from "../../core/types.js";
import type { RedisContext } from "./context.js";
import { COUNT_SHARDS } from "./keys.js";
import { conversationRows, eventPage, historyPage } from "./replies.js";

// The store's reads: history, conversations, event logs, counts. None writes.

export async function history(
  ctx: RedisContext,
  user: string,
  peer: string,
  query: HistoryQuery,
): Promise<{ messages: Message[]; hasMore: boolean }> {
  const conv = ctx.keys.conversation(user, peer);
  const r = await ctx.run.script(
    "duetHistory",
    [conv.ids, conv.msg],
    [query.after ?? "", query.before ?? "", query.limit],
  );
  return historyPage(r);
}

export async function conversations(
  ctx: RedisContext,
  user: string,
  limit: number,
  before?: number,
): Promise<ConversationSummary[]> {
  const u = ctx.keys.user(user);
  const rows = await ctx.run.script(
    "duetConversations",
    [u.convs, u.last],
    [before === undefined ? "+inf" : String(before), limit],
  );
  const summaries = conversationRows(rows);
  // Unread counts and ttls live with each conversation (another slot each): one pipelined batch,
  // the ttl read by the same script as the count (the `ttl` field of the conversation's meta hash).
  const counts = await Promise.all(
    summaries.map((s) => {
      const conv = ctx.keys.conversation(user, s.peer);
      return ctx.run.script<[number, number]>(
        "duetUnreadCount",
        [conv.meta, conv.from(s.peer), conv.exp],
        [user],
      );
    }),
  );
  summaries.forEach((s, i) => {
    const [count, ttl] = counts[i] ?? [0, 0];
    s.unread = Number(count);
    s.ttl = Number(ttl);
  });
  return summaries.sort(
    (a, b) => b.updatedAt - a.updatedAt || (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0),
  );
}

export async function eventsSince(
  ctx: RedisContext,
  user: string,
  since: number,
  limit: number,
): Promise<EventPage> {
  const u = ctx.keys.user(user);
  return eventPage(await ctx.run.script("duetEventsSince", [u.seq, u.log], [since, limit]));
}

export async function head(ctx: RedisContext, user: string): Promise<number> {
  const seq = await ctx.run.call(() => ctx.client.get(ctx.keys.user(user).seq));
  return seq === null ? 0 : Number(seq);
}

export async function countMessages(ctx: RedisContext): Promise<number> {
  const keys = Array.from({ length: COUNT_SHARDS }, (_, i) => ctx.keys.count(i));
  const values = ctx.cluster
    ? await Promise.all(keys.map((key) => ctx.run.call(() => ctx.client.get(key))))
    : await ctx.run.call(() => ctx.client.mget(keys));
  return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
}
