import { randomBytes } from "node:crypto";
import type { SendInput } from "../../core/types.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The 16 random characters (80 bits) of a ULID; the script supplies the 10 of time. */
export function randomIdPart(): string {
  const bytes = randomBytes(10);
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(value >> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
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
