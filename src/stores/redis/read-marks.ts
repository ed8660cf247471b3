import type { ReadResult, UserEvent } from "../../core/ports/store.js";
import type { Message } from "../../core/types.js";
import type { Late } from "./command-runner.js";
import { lateUnsure, type RedisContext, readKeys } from "./context.js";
import { markerOf, messagesOf, readEvents } from "./replies.js";

/** Store.markRead on Redis: one script on standalone, the marker then each side's event on a cluster. */
export async function markRead(
  ctx: RedisContext,
  reader: string,
  peer: string,
  upTo: string,
): Promise<ReadResult> {
  const conv = ctx.keys.conversation(reader, peer);
  if (!ctx.cluster) {
    const keys = [
      conv.meta,
      conv.from(peer),
      ...readKeys(ctx.keys.user(reader)),
      ...readKeys(ctx.keys.user(peer)),
    ];
    const late = (outcome: Late<unknown[]>) => {
      if (!("value" in outcome)) return ctx.lateWrite([], [reader, peer]);
      const r = outcome.value;
      ctx.lateWrite(readEvents(reader, peer, markerOf(r[0]), Number(r[1]), Number(r[2])), []);
    };
    const r = await ctx.run.script(
      "duetMarkRead",
      keys,
      [reader, peer, upTo, ctx.maxEvents, ctx.maxAgeMs],
      late,
    );
    const marker = markerOf(r[0]);
    return { upTo: marker, events: readEvents(reader, peer, marker, Number(r[1]), Number(r[2])) };
  }
  const r = await ctx.run.script(
    "duetMoveMarker",
    [conv.meta, conv.from(peer)],
    [reader, upTo],
    lateUnsure(ctx, [reader, peer]),
  );
  const marker = markerOf(r[0]);
  return { upTo: marker, events: await applyReads(ctx, reader, peer, marker) };
}

/** Store.readUnread on Redis. */
export async function readUnread(
  ctx: RedisContext,
  reader: string,
  peer: string,
  limit: number,
  markAsRead: boolean,
): Promise<{ messages: Message[]; events: UserEvent[] }> {
  const conv = ctx.keys.conversation(reader, peer);
  const convKeys = [conv.meta, conv.from(peer), conv.msg];
  if (!ctx.cluster) {
    const keys = [...convKeys, ...readKeys(ctx.keys.user(reader)), ...readKeys(ctx.keys.user(peer))];
    const args = [reader, peer, limit, markAsRead ? "1" : "0", ctx.maxEvents, ctx.maxAgeMs];
    const late = (outcome: Late<unknown[]>) => {
      if (!("value" in outcome)) return ctx.lateWrite([], [reader, peer]);
      const r = outcome.value;
      ctx.lateWrite(readEvents(reader, peer, markerOf(r[1]), Number(r[2]), Number(r[3])), []);
    };
    const r = await ctx.run.script("duetReadUnread", keys, args, markAsRead ? late : undefined);
    const marker = markerOf(r[1]);
    return {
      messages: unexpired(r[0]),
      events: readEvents(reader, peer, marker, Number(r[2]), Number(r[3])),
    };
  }
  const r = await ctx.run.script(
    "duetTakeUnread",
    convKeys,
    [reader, limit, markAsRead ? "1" : "0"],
    markAsRead ? lateUnsure(ctx, [reader, peer]) : undefined,
  );
  const messages = unexpired(r[0]);
  const marker = markerOf(r[1]);
  const events = markAsRead && messages.length > 0 ? await applyReads(ctx, reader, peer, marker) : [];
  return { messages, events };
}

/**
 * Unread messages but the expired ones the sweeper has not erased yet (SPEC 15): the only
 * tombstones here, as an unsent message leaves its sender's `from:` set at once.
 */
function unexpired(bodies: unknown): Message[] {
  return messagesOf(bodies as unknown[]).filter((m) => m.kind !== "deleted");
}

/**
 * Cluster: both sides' `read` events for the marker. Run even when the marker did not move, so
 * repeating a mark-read completes one interrupted after the marker moved (apply_read appends
 * nothing a second time).
 */
async function applyReads(
  ctx: RedisContext,
  reader: string,
  peer: string,
  marker: string | null,
): Promise<UserEvent[]> {
  if (marker === null) return [];
  const apply = (owner: string, other: string) =>
    ctx.run.script(
      "duetApplyRead",
      readKeys(ctx.keys.user(owner)),
      [other, reader, marker, ctx.maxEvents, ctx.maxAgeMs],
      lateUnsure(ctx, [reader, peer]),
    );
  const [s1, s2] = await Promise.all([apply(reader, peer), apply(peer, reader)]);
  return readEvents(reader, peer, marker, Number(s1), Number(s2));
}
