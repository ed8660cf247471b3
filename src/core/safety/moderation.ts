import type { ImageRef, LinkRef, MessageKind } from "../types.js";
import { text as validText } from "../validate.js";

/** What duet POSTs to the moderation hook (SPEC 12) for every send and edit, before storing it. */
export interface ModerationRequest {
  message: {
    from: string;
    to: string;
    kind: MessageKind;
    text: string | null;
    image: ImageRef | null;
    links: LinkRef[];
  };
  /** The pair the two users form (SPEC 11), or null when they are not matched (or pairs are open). */
  pair: { since: number } | null;
}

/** The hook's answer. */
export type ModerationVerdict =
  | { action: "accept" }
  | { action: "reject"; reason: string }
  | { action: "rewrite"; text: string };

/**
 * The port to the moderation hook. `moderate` resolves with the hook's verdict, or rejects with a
 * ModerationFailure when the hook could not give one (timeout, non-2xx, redirect, an answer too
 * large or malformed, a refused connection): the caller applies DUET_MODERATION_FAILURE.
 * Calls are independent: a slow answer holds only its own send.
 */
export interface Moderator {
  moderate(request: ModerationRequest): Promise<ModerationVerdict>;
}

export class ModerationFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModerationFailure";
  }
}

const MAX_REASON = 200;

/** Parses the hook's JSON answer; anything else is a ModerationFailure. */
export function parseVerdict(body: unknown, maxText: number): ModerationVerdict {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new ModerationFailure("the answer is not a JSON object");
  const answer = body as Record<string, unknown>;
  switch (answer.action) {
    case "accept":
      return { action: "accept" };
    case "reject": {
      const reason = answer.reason;
      // A reason is optional for the hook; the sender always gets one.
      if (reason === undefined || reason === null) return { action: "reject", reason: "moderation" };
      if (typeof reason !== "string" || reason.length === 0 || reason.length > MAX_REASON)
        throw new ModerationFailure(`reason must be a string of 1-${MAX_REASON} characters`);
      return { action: "reject", reason };
    }
    case "rewrite": {
      // The same rules as a sender's text (length, valid Unicode).
      try {
        return { action: "rewrite", text: validText(answer.text, maxText, true) ?? "" };
      } catch {
        throw new ModerationFailure(`text must be a string of 1-${maxText} characters`);
      }
    }
    default:
      throw new ModerationFailure("action must be accept, reject or rewrite");
  }
}
