import type { Redis } from "ioredis";
import { DuetError } from "../../core/errors.js";
import type { RedisContext } from "./context.js";

// Blocks: the conversation's `blk` set is what a send checks; the user's set is the listing.

/** Store.block (on true) and Store.unblock (on false). */
export async function setBlock(
  ctx: RedisContext,
  blocker: string,
  blocked: string,
  on: boolean,
): Promise<void> {
  const convSet = ctx.keys.conversation(blocker, blocked).blk;
  const userSet = ctx.keys.user(blocker).blocks;
  const client = ctx.client;
  if (!ctx.cluster) {
    const tx = (client as Redis).multi();
    if (on) tx.sadd(convSet, blocker).sadd(userSet, blocked);
    else tx.srem(convSet, blocker).srem(userSet, blocked);
    const results = await ctx.run.call(() => tx.exec());
    const failed = results?.find(([err]) => err !== null);
    if (failed) throw new DuetError("store_unavailable", `Redis: ${(failed[0] as Error).message}`);
    return;
  }
  // Two slots: two idempotent writes; repeating the call repairs a half-done one.
  await Promise.all(
    on
      ? [ctx.run.call(() => client.sadd(convSet, blocker)), ctx.run.call(() => client.sadd(userSet, blocked))]
      : [
          ctx.run.call(() => client.srem(convSet, blocker)),
          ctx.run.call(() => client.srem(userSet, blocked)),
        ],
  );
}

export async function listBlocks(ctx: RedisContext, blocker: string): Promise<string[]> {
  const members = await ctx.run.call(() => ctx.client.smembers(ctx.keys.user(blocker).blocks));
  return members.sort();
}

export async function isBlocked(ctx: RedisContext, blocker: string, blocked: string): Promise<boolean> {
  const convSet = ctx.keys.conversation(blocker, blocked).blk;
  return (await ctx.run.call(() => ctx.client.sismember(convSet, blocker))) === 1;
}
