import { createHash } from "node:crypto";
import { DuetError } from "../../core/errors.js";
import { expiredView } from "../../core/expiry.js";
import { sendEntryIds } from "../../core/ports/outbox.js";
import type { SendResult } from "../../core/ports/store.js";
import type { Message, SendInput } from "../../core/types.js";
import type { Late } from "./command-runner.js";
import { lateUnsure, messageKeys, type RedisContext } from "./context.js";
import type { UserKeys } from "./keys.js";
import { bodyParts, fullBody } from "./message-body.js";
import { messageArgs, messageEvents, sendResult } from "./replies.js";
import type { ScriptArg } from "./scripts.js";

/** Store.send on Redis (see RedisStore for how a send is split on a cluster). */
export async function sendMessage(ctx: RedisContext, input: SendInput): Promise<SendResult> {
  const parts = bodyParts(input);
  if (!ctx.cluster) return sendStandalone(ctx, input, parts, true);
  if (input.clientMsgId !== null) {
    const claimed = await ctx.run.script<string | null>(
      "duetClaimClientId",
      [ctx.keys.user(input.from).cmid],
      [input.clientMsgId, input.to],
    );
    if (claimed !== null) {
      const [peer = "", id = ""] = claimed.split(" ");
      if (peer !== input.to) {
        const earlier = await sentBefore(ctx, input, peer, id);
        if (earlier !== null) return earlier;
      }
    }
  }
  const conv = ctx.keys.conversation(input.from, input.to);
  const convKeys = [
    conv.meta,
    conv.msg,
    conv.ids,
    conv.from(input.from),
    conv.cmid,
    conv.blk,
    conv.pair,
    conv.exp,
  ];
  const args = [...messageArgs(input, parts, ctx.sendChecks), ctx.defaultTtlS];
  const unsure = lateUnsure(ctx, [input.from, input.to]);
  const r = await ctx.run.script("duetStoreMessage", convKeys, args, unsure);
  if (r[0] === "blocked") throw new DuetError("blocked");
  if (r[0] === "not_matched") throw new DuetError("not_matched");
  const duplicate = r[0] === "dup";
  const expiresAt = duplicate ? "" : String(r[3] ?? "");
  const body = duplicate ? String(r[1]) : fullBody(String(r[1]), String(r[2]), parts, expiresAt);
  const message = JSON.parse(body) as Message;
  // Idempotent per side: on a duplicate this completes a send that was interrupted after step 1.
  const apply = (u: UserKeys, peer: string) =>
    ctx.run.script(
      "duetApplyMessage",
      messageKeys(u),
      [peer, message.id, message.ts, ctx.maxEvents, ctx.maxAgeMs, "1"],
      unsure,
    );
  const [s1, s2] = await Promise.all([
    apply(ctx.keys.user(input.from), input.to),
    apply(ctx.keys.user(input.to), input.from),
    // SPEC 15: the sweeper's index is one key of its own slot, so on a cluster it is a step of its
    // own (a repeat adds it again: the same member, no harm).
    message.expiresAt === undefined ? null : indexExpiring(ctx, message),
    // On a repeat too: the first attempt may have died before its outbox step. A no-op while the
    // entries are pending; after delivery it sends again with the same webhook-id (at least once).
    enqueueForSend(ctx, message, body),
  ]);
  if (!duplicate) ctx.count.add(1);
  const events = messageEvents(message, body, Number(s1), Number(s2), undefined);
  // A repeat answers the message as it is now: its tombstone once it expired (SPEC 15).
  return { message: duplicate ? expiredView(message, Date.now()) : message, duplicate, events };
}

/** Standalone Redis: the whole send is one script (send.lua), so one round trip. */
async function sendStandalone(
  ctx: RedisContext,
  input: SendInput,
  parts: { head: string; tail: string },
  again: boolean,
): Promise<SendResult> {
  const conv = ctx.keys.conversation(input.from, input.to);
  const s = ctx.keys.user(input.from);
  const t = ctx.keys.user(input.to);
  const keysAndArgs: ScriptArg[] = [
    conv.meta,
    conv.msg,
    conv.ids,
    conv.from(input.from),
    conv.cmid,
    conv.blk,
    s.seq,
    s.log,
    s.convs,
    t.seq,
    t.log,
    t.convs,
    conv.pair,
    ctx.keys.outbox.due,
    ctx.keys.outbox.entries,
    s.cmid,
    conv.exp,
    ctx.keys.expiryIndex,
    ...messageArgs(input, parts, ctx.sendChecks),
    ctx.maxEvents,
    ctx.maxAgeMs,
    ctx.publishAs,
    s.channel,
    t.channel,
    ctx.sendOutboxArgs[0],
    ctx.sendOutboxArgs[1],
    ctx.defaultTtlS,
  ];
  // With a node id the script publishes both events itself (see RedisStoreOptions.nodeId).
  const carriedBy = ctx.publishAs !== "" ? "store" : undefined;
  const late = (outcome: Late<unknown[]>) => {
    if ("value" in outcome) {
      const r = outcome.value;
      if (r[0] === "new") {
        ctx.count.add(1);
        ctx.lateWrite(sendResult(r, parts, input, carriedBy).events, []);
      }
      // A repeat: its first attempt may not have been published either.
      else if (r[0] === "dup") ctx.lateWrite([], [input.from, input.to]);
    } else ctx.lateWrite([], [input.from, input.to]);
  };
  const r = await ctx.run.scriptFlat("duetSend", keysAndArgs, late);
  if (r[0] === "blocked") throw new DuetError("blocked");
  if (r[0] === "not_matched") throw new DuetError("not_matched");
  if (r[0] === "dup") return duplicateOf(String(r[1]));
  if (r[0] === "dup_to") {
    const earlier = await sentBefore(ctx, input, String(r[1]), String(r[2]));
    if (earlier !== null) return earlier;
    // The claim was freed (its message is gone): send once more, now as a new message.
    if (again) return sendStandalone(ctx, input, parts, false);
    throw new DuetError(
      "store_unavailable",
      "Redis: the clientMsgId stayed claimed by a message that is gone.",
    );
  }
  ctx.count.add(1);
  return sendResult(r, parts, input, carriedBy);
}

function indexExpiring(ctx: RedisContext, message: Message): Promise<unknown> {
  const member = `${message.id} ${message.from} ${message.to}`;
  return ctx.run.call(() => ctx.client.zadd(ctx.keys.expiryIndex, String(message.expiresAt), member));
}

/** A repeat's answer: the stored message, as its tombstone once it has expired (SPEC 15). */
function duplicateOf(json: string): SendResult {
  const message = JSON.parse(json) as Message;
  const now = expiredView(message, Date.now());
  return now === message
    ? { message, duplicate: true, events: [], json }
    : { message: now, duplicate: true, events: [] };
}

/**
 * Redis Cluster: what send.lua adds to the outbox, as a step of its own in the outbox's slot (no
 * script spans two slots), made before the send is answered and idempotent by entry id.
 */
function enqueueForSend(ctx: RedisContext, message: Message, body: string): Promise<void> {
  const [created, delay] = ctx.sendOutboxArgs;
  const entries = [];
  if (created === "1")
    entries.push({
      id: sendEntryIds.created(message.id),
      type: "message.created",
      data: `{"message":${body}}`,
    });
  if (delay !== "")
    entries.push({
      id: sendEntryIds.notify(message.id),
      type: "notify",
      data: JSON.stringify({ user: message.to, peer: message.from, id: message.id, ts: message.ts }),
      dueAt: message.ts + Number(delay),
    });
  return ctx.outbox.enqueue(entries);
}

/**
 * The message the sender sent earlier with this clientMsgId to `peer` (another recipient: SPEC 3
 * scopes a clientMsgId to its sender), as a duplicate's result. `id` is the message's id when the
 * claim holds it (standalone), else it is read from that conversation's cmid. Rare, so a few round
 * trips. When that message is gone (a first attempt that died before its conversation step, or a
 * conversation an unmatch erased), the claim is handed to this send's recipient and null returned.
 */
async function sentBefore(
  ctx: RedisContext,
  input: SendInput,
  peer: string,
  id: string,
): Promise<SendResult | null> {
  const clientMsgId = input.clientMsgId ?? "";
  const conv = ctx.keys.conversation(input.from, peer);
  const messageId =
    id !== "" ? id : await ctx.run.call(() => ctx.client.hget(conv.cmid, `${input.from} ${clientMsgId}`));
  const json = messageId ? await ctx.run.call(() => ctx.client.hget(conv.msg, messageId)) : null;
  if (json) return duplicateOf(json);
  const field = createHash("sha1").update(clientMsgId).digest("hex");
  await ctx.run.call(() => ctx.client.hset(ctx.keys.user(input.from).cmid, field, input.to));
  return null;
}
