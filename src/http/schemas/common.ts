/** Pieces shared by the route specs: limits the schemas depend on, and small bodies. */
import { Type } from "@sinclair/typebox";
import { DEFAULT_MAX_TEXT } from "../../core/message-schema.js";
import { UserId } from "../../core/schema-kit.js";

/** The configured limits a schema states (the committed documents use the defaults). */
export interface ApiLimits {
  maxTextLength: number;
  maxPollSeconds: number;
}

export const DEFAULT_LIMITS: ApiLimits = { maxTextLength: DEFAULT_MAX_TEXT, maxPollSeconds: 50 };

export const OkSchema = Type.Object({ ok: Type.Literal(true) }, { title: "Ok" });

export const PeerParams = Type.Object({ peer: UserId("The other side of the conversation.") });
export const UserParams = Type.Object({ user: UserId() });

/** `limit` as SPEC section 4 has it: at least 1; more than `max` counts as `max`. */
export const Limit = (fallback: number, max: number) =>
  Type.Integer({
    minimum: 1,
    default: fallback,
    description: `Default ${fallback}; values above ${max} count as ${max}.`,
    errorMessage: "must be a positive integer",
  });

export const Empty = Type.Object({}, { additionalProperties: false, title: "Empty" });
