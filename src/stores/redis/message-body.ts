import { randomFillSync } from "node:crypto";
import type { Message, SendInput } from "../../core/types.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** Random bytes drawn 16 at a time (one per character, 5 bits used), refilled when used up. */
const pool = Buffer.alloc(16 * 256);
let poolAt = pool.length;

/** The 16 random characters (80 bits) of a ULID; the script supplies the 10 of time. */
export function randomIdPart(): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  let out = "";
  for (let i = 0; i < 16; i++) out += CROCKFORD[pool.readUInt8(poolAt++) & 31];
  return out;
}

/**
 * A message body is JSON in a fixed key order; the script splices in the id and ts it assigns:
 * `{"id":"<id>",<head>"ts":<ts>,<tail>`.
 */
export function bodyParts(input: SendInput): { head: string; tail: string } {
  // Field by field (cheaper than stringifying an object), in the Message's key order.
  const head = `"from":${JSON.stringify(input.from)},"to":${JSON.stringify(input.to)},`;
  const links = input.links.length === 0 ? "[]" : JSON.stringify(input.links);
  const tail =
    `"kind":${JSON.stringify(input.kind)},"text":${JSON.stringify(input.text ?? null)},` +
    `"image":${JSON.stringify(input.image ?? null)},"links":${links},` +
    `"clientMsgId":${JSON.stringify(input.clientMsgId ?? null)}${safetyFields(input)}}`;
  return { head, tail };
}

/** `screened` and `moderated`, only on messages the safety checks touched (the rest do not grow). */
function safetyFields(input: SendInput): string {
  if (input.screened === undefined && input.moderated !== true) return "";
  let out = "";
  if (input.screened !== undefined) out += `,"screened":${JSON.stringify(input.screened)}`;
  if (input.moderated === true) out += `,"moderated":true`;
  return out;
}

/** The stored body; `expiresAt` (SPEC 15, ms as a string, "" for none) is its last field when set. */
export function fullBody(
  id: string,
  ts: string,
  parts: { head: string; tail: string },
  expiresAt = "",
): string {
  if (expiresAt === "") return `{"id":"${id}",${parts.head}"ts":${ts},${parts.tail}`;
  return `{"id":"${id}",${parts.head}"ts":${ts},${parts.tail.slice(0, -1)},"expiresAt":${expiresAt}}`;
}

/**
 * The Message `fullBody` describes, made from the input rather than parsed back (the same
 * fields, in the same order): what JSON.parse of the body would give for a valid input.
 */
export function messageOf(id: string, ts: number, input: SendInput, expiresAt = ""): Message {
  const message: Message = {
    id,
    from: input.from,
    to: input.to,
    ts,
    kind: input.kind,
    text: input.text ?? null,
    image: input.image ?? null,
    links: input.links,
    clientMsgId: input.clientMsgId ?? null,
  };
  if (input.screened !== undefined) message.screened = input.screened;
  if (input.moderated === true) message.moderated = true;
  if (expiresAt !== "") message.expiresAt = Number(expiresAt);
  return message;
}
