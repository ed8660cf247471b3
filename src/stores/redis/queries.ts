import type { EventPage, HistoryQuery } from "../../core/ports/store.js";
import type { ConversationSummary, Message } from "../../core/types.js";
import type { RedisContext } from "./context.js";
import { conversationPeers, conversationRows, eventPage, historyPage, messageRefs } from "./replies.js";

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
  const rows = await ctx.run.call(() =>
    ctx.client.zrevrangebyscore(
      u.convs,
      before === undefined ? "+inf" : `(${before}`,
      "-inf",
      "WITHSCORES",
      "LIMIT",
      0,
      limit,
    ),
  );
  // Unread counts, ttls and last messages live with each conversation (another slot each): one
  // pipelined batch, one script per conversation (unread-count.lua).
  const details = await Promise.all(
    conversationPeers(rows).map((peer) => {
      const conv = ctx.keys.conversation(user, peer);
      return ctx.run.script<[number, number, string | null]>(
        "duetUnreadCount",
        [conv.meta, conv.from(peer), conv.exp, conv.ids, conv.msg],
        [user],
      );
    }),
  );
  return conversationRows(rows, details).sort(
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
  const r = await ctx.run.script("duetEventsSince", [u.seq, u.log], [since, limit]);
  return eventPage(r, await referencedBodies(ctx, user, messageRefs(r)));
}

/**
 * The bodies of the messages a log page refers to (peer -> ids), as they are now: one HMGET per
 * conversation, all in one pipelined batch. A message that is gone (its conversation erased while
 * the page was read) has no body.
 */
async function referencedBodies(
  ctx: RedisContext,
  user: string,
  refs: Map<string, string[]>,
): Promise<Map<string, string>> {
  const bodies = new Map<string, string>();
  if (refs.size === 0) return bodies;
  await Promise.all(
    [...refs].map(async ([peer, ids]) => {
      const msg = ctx.keys.conversation(user, peer).msg;
      const found = await ctx.run.call(() => ctx.client.hmget(msg, ...ids));
      found.forEach((body, i) => {
        if (body !== null) bodies.set(`${ids[i]} ${peer}`, body);
      });
    }),
  );
  return bodies;
}

export async function head(ctx: RedisContext, user: string): Promise<number> {
  const seq = await ctx.run.call(() => ctx.client.get(ctx.keys.user(user).seq));
  return seq === null ? 0 : Number(seq);
}
