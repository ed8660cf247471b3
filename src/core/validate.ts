import type { Static } from "@sinclair/typebox";
import { DuetError } from "./errors.js";
import { LIMITS } from "./limits.js";
import {
  type LinkRef,
  type MessageKind,
  type SendBody,
  sendBodySchema,
  systemBodySchema,
  Text,
} from "./message-schema.js";
import { compile, MESSAGE_ID_PATTERN, USER_ID_PATTERN } from "./schema-kit.js";
import type { SendInput } from "./types.js";

/** The default sender of server API messages: no token may act as it, nobody may write to it. */
export const SYSTEM_USER = "system";
const USER_ID = new RegExp(USER_ID_PATTERN);
const MESSAGE_ID = new RegExp(MESSAGE_ID_PATTERN);
const INTEGER = new RegExp(`^\\d{1,${LIMITS.integerDigits}}$`);

/**
 * A user id per SPEC section 2, except "." and "..": URL paths resolve those as segments
 * (`/v1/blocks/..` is `/v1`), so such a user could never be named in a path.
 */
export function isUserId(value: unknown): value is string {
  return typeof value === "string" && USER_ID.test(value);
}

export function userId(value: unknown, field = "user"): string {
  if (!isUserId(value))
    throw new DuetError(
      "invalid_input",
      `${field} must be 1-${LIMITS.userIdLength} characters of A-Z a-z 0-9 _ . @ -.`,
    );
  return value;
}

export function messageId(value: unknown, field: string): string {
  if (typeof value !== "string" || !MESSAGE_ID.test(value)) {
    throw new DuetError("invalid_input", `${field} must be a message id.`);
  }
  return value;
}

/** Semantic URL check (the schema has the length): it must parse, and be http or https. */
function url(value: string, field: string): string {
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

/** Validators compiled once per text limit (a server has one; tests use a few). */
interface SendValidators {
  body: (value: unknown) => SendBody;
  system: (value: unknown) => SystemBody;
  text: (value: unknown) => string;
}
const compiled = new Map<number, SendValidators>();

function validators(maxText: number): SendValidators {
  let v = compiled.get(maxText);
  if (v === undefined) {
    v = {
      body: compile(sendBodySchema(maxText), "body"),
      system: compile(systemBodySchema(maxText), "body"),
      text: compile(Text(maxText, "A text."), "text"),
    };
    compiled.set(maxText, v);
  }
  return v;
}

function checkLinks(links: LinkRef[] | null | undefined): LinkRef[] {
  if (links === undefined || links === null) return [];
  for (let i = 0; i < links.length; i++) url((links[i] as LinkRef).url, `links[${i}].url`);
  return links;
}

/**
 * A send whose shape its schema has checked (HTTP body or WebSocket frame): what is left is what a
 * schema cannot say.
 */
export function checkSend(from: string, body: SendBody): SendInput {
  if (body.to === from) throw new DuetError("self_message");
  if (body.to === SYSTEM_USER) throw new DuetError("invalid_input", "system cannot be sent to.");
  const image = body.image ?? null;
  if (image !== null) url(image.url, "image.url");
  const kind: MessageKind = image ? "image" : "text";
  const text = body.text ?? null;
  if (kind === "text" && text === null) throw new DuetError("invalid_input", "body.text is required.");
  return {
    from,
    to: body.to,
    kind,
    text,
    image,
    links: checkLinks(body.links),
    clientMsgId: body.clientMsgId ?? null,
  };
}

/** Validates a user's send: the body of POST /v1/messages. */
export function sendInput(from: string, body: unknown, maxText: number): SendInput {
  return checkSend(from, validators(maxText).body(body));
}

export type SystemBody = Static<ReturnType<typeof systemBodySchema>>;

/** A server API system message whose shape its schema has checked. */
export function checkSystem(valid: SystemBody): SendInput {
  const from = valid.from ?? SYSTEM_USER;
  if (from === valid.to) throw new DuetError("self_message");
  return {
    from,
    to: valid.to,
    kind: "system",
    text: valid.text,
    image: null,
    links: checkLinks(valid.links),
    clientMsgId: valid.clientMsgId ?? null,
  };
}

/** A text by SPEC section 3's rule (e.g. a moderation hook's rewrite): null when absent and not required. */
export function text(value: unknown, maxText: number, required: boolean): string | null {
  if ((value === undefined || value === null) && !required) return null;
  return validators(maxText).text(value);
}

export function systemInput(body: unknown, maxText: number): SendInput {
  return checkSystem(validators(maxText).system(body));
}

/**
 * Rejects fields a shape does not know, so a typo is an error rather than silently ignored. (For
 * hand-written checks; a route's schema says this with `additionalProperties: false`.)
 */
export function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      throw new DuetError("invalid_input", `Unknown field "${key.slice(0, 40)}" in ${where}.`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
  if (!INTEGER.test(value)) throw new DuetError("invalid_input", `${name} must be a non-negative integer.`);
  const n = Number(value);
  if (n < min) throw new DuetError("invalid_input", `${name} must be at least ${min}.`);
  return Math.min(n, max);
}
