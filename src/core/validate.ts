import { DuetError } from "./errors.js";
import type { ImageRef, LinkRef, MessageKind, SendInput } from "./types.js";

/** The default sender of server API messages: no token may act as it, nobody may write to it. */
export const SYSTEM_USER = "system";
const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
/** Message ids are ULIDs (Crockford base32, 26 characters). */
const MESSAGE_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const MAX_URL = 2048;
const MAX_LINKS = 4;
const MAX_TITLE = 300;
const MAX_CLIENT_MSG_ID = 64;
const MAX_DIMENSION = 100_000;

/**
 * A user id per SPEC section 2, except "." and "..": URL paths resolve those as segments
 * (`/v1/blocks/..` is `/v1`), so such a user could never be named in a path.
 */
export function isUserId(value: unknown): value is string {
  return typeof value === "string" && USER_ID.test(value) && value !== "." && value !== "..";
}

export function userId(value: unknown, field = "user"): string {
  if (!isUserId(value))
    throw new DuetError("invalid_input", `${field} must be 1-64 characters of A-Z a-z 0-9 _ . @ -.`);
  return value;
}

export function messageId(value: unknown, field: string): string {
  if (typeof value !== "string" || !MESSAGE_ID.test(value)) {
    throw new DuetError("invalid_input", `${field} must be a message id.`);
  }
  return value;
}

function url(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length > MAX_URL) {
    throw new DuetError("invalid_input", `${field} must be an http(s) URL of at most ${MAX_URL} characters.`);
  }
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new DuetError("invalid_input", `${field} must be an http(s) URL.`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new DuetError("invalid_input", `${field} must use http or https.`);
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Rejects fields a shape does not know, so a typo is an error rather than silently ignored. */
export function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      throw new DuetError("invalid_input", `Unknown field "${key.slice(0, 40)}" in ${where}.`);
  }
}

function dimension(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_DIMENSION) {
    throw new DuetError("invalid_input", `${field} must be a positive integer.`);
  }
  return value;
}

function image(value: unknown): ImageRef | null {
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value))
    throw new DuetError("invalid_input", "image must be an object {url, width?, height?}.");
  onlyKeys(value, ["url", "width", "height"], "image");
  const out: ImageRef = { url: url(value.url, "image.url") };
  const width = dimension(value.width, "image.width");
  const height = dimension(value.height, "image.height");
  if (width !== undefined) out.width = width;
  if (height !== undefined) out.height = height;
  return out;
}

function links(value: unknown): LinkRef[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_LINKS) {
    throw new DuetError("invalid_input", `links must be an array of at most ${MAX_LINKS} {url, title?}.`);
  }
  return value.map((link, i) => {
    if (!isPlainObject(link)) throw new DuetError("invalid_input", `links[${i}] must be an object.`);
    onlyKeys(link, ["url", "title"], `links[${i}]`);
    const out: LinkRef = { url: url(link.url, `links[${i}].url`) };
    if (link.title !== undefined && link.title !== null) {
      if (typeof link.title !== "string" || link.title.length > MAX_TITLE) {
        throw new DuetError(
          "invalid_input",
          `links[${i}].title must be a string of at most ${MAX_TITLE} characters.`,
        );
      }
      out.title = link.title;
    }
    return out;
  });
}

/** Lone surrogates cannot be encoded as UTF-8; storing them would corrupt what readers get back. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

export function text(value: unknown, maxLength: number, required: boolean): string | null {
  if (value === undefined || value === null) {
    if (required) throw new DuetError("invalid_input", "text is required.");
    return null;
  }
  if (typeof value !== "string") throw new DuetError("invalid_input", "text must be a string.");
  if (value.length < 1 || value.length > maxLength) {
    throw new DuetError("invalid_input", `text must be 1-${maxLength} characters.`);
  }
  if (hasLoneSurrogate(value)) throw new DuetError("invalid_input", "text is not valid Unicode.");
  return value;
}

export function clientMsgId(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (
    typeof value !== "string" ||
    value.length < 1 ||
    value.length > MAX_CLIENT_MSG_ID ||
    hasLoneSurrogate(value)
  ) {
    throw new DuetError(
      "invalid_input",
      `clientMsgId must be a string of 1-${MAX_CLIENT_MSG_ID} characters.`,
    );
  }
  return value;
}

const SEND_FIELDS = ["to", "text", "image", "links", "clientMsgId"] as const;

/**
 * Validates a user's send (HTTP body or WebSocket `send` frame, minus its `op`/`ref`).
 * `extra` names transport fields the caller has already consumed.
 */
export function sendInput(
  from: string,
  body: unknown,
  maxText: number,
  extra: readonly string[] = [],
): SendInput {
  if (!isPlainObject(body)) throw new DuetError("invalid_input", "The body must be a JSON object.");
  for (const key in body) {
    if (!(SEND_FIELDS as readonly string[]).includes(key) && !extra.includes(key)) {
      onlyKeys(body, [...SEND_FIELDS, ...extra], "message");
    }
  }
  const to = userId(body.to, "to");
  if (to === from) throw new DuetError("self_message");
  if (to === SYSTEM_USER) throw new DuetError("invalid_input", "system cannot be sent to.");
  const img = image(body.image);
  const kind: MessageKind = img ? "image" : "text";
  return {
    from,
    to,
    kind,
    text: text(body.text, maxText, kind === "text"),
    image: img,
    links: links(body.links),
    clientMsgId: clientMsgId(body.clientMsgId),
  };
}

export function systemInput(body: unknown, maxText: number): SendInput {
  if (!isPlainObject(body)) throw new DuetError("invalid_input", "The body must be a JSON object.");
  onlyKeys(body, ["to", "text", "from", "links", "clientMsgId"], "system message");
  const to = userId(body.to, "to");
  const from = body.from === undefined || body.from === null ? "system" : userId(body.from, "from");
  if (from === to) throw new DuetError("self_message");
  return {
    from,
    to,
    kind: "system",
    text: text(body.text, maxText, true),
    image: null,
    links: links(body.links),
    clientMsgId: clientMsgId(body.clientMsgId),
  };
}

export function asObject(body: unknown, where = "The body"): Record<string, unknown> {
  if (!isPlainObject(body)) throw new DuetError("invalid_input", `${where} must be a JSON object.`);
  return body;
}

/** Parses an optional non-negative integer query/JSON value, clamped to [min, max]. */
export function intParam(
  value: string | null | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === null || value === undefined || value === "") return fallback;
  if (!/^\d{1,15}$/.test(value))
    throw new DuetError("invalid_input", `${name} must be a non-negative integer.`);
  const n = Number(value);
  if (n < min) throw new DuetError("invalid_input", `${name} must be at least ${min}.`);
  return Math.min(n, max);
}
