import { randomFillSync } from "node:crypto";
import type { SendInput } from "../../core/types.js";

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
  for (let i = 0; i < 16; i++) out += CROCKFORD[pool[poolAt++] & 31];
  return out;
}

/**
 * A message body is JSON in a fixed key order; the script splices in the id and ts it assigns:
 * `{"id":"<id>",<head>"ts":<ts>,<tail>`.
 */
export function bodyParts(input: SendInput): { head: string; tail: string } {
  const head = `${JSON.stringify({ from: input.from, to: input.to }).slice(1, -1)},`;
  const tail = JSON.stringify({
    kind: input.kind,
    text: input.text,
    image: input.image,
    links: input.links,
    clientMsgId: input.clientMsgId,
  }).slice(1);
  return { head, tail };
}

export function fullBody(id: string, ts: string, parts: { head: string; tail: string }): string {
  return `{"id":"${id}",${parts.head}"ts":${ts},${parts.tail}`;
}
