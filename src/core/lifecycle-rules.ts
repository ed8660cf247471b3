/**
 * SPEC 13's rules for changing a stored message, as pure functions of its current state: each
 * store runs them on the state it holds at the moment of the write (inside its transaction, or
 * as a compare-and-set on Redis), so the same rules decide on every store and no race slips past.
 * A rule returns the change to store, null when there is nothing to change (a repeat), or throws
 * the DuetError the caller gets.
 */
import { DuetError } from "./errors.js";
import type { Message, Tombstone } from "./types.js";

/** What a rule decided: the message's next state and the event it makes. */
export type MessageChange =
  | { type: "edit"; message: Message }
  | { type: "delete"; message: Message }
  | { type: "reaction"; message: Message; user: string; emoji: string; on: boolean };

export interface LifecycleLimits {
  /** How long after sending a message may be edited (ms); 0 turns editing off. */
  editWindowMs: number;
  /** How long after sending a message may be unsent (ms); 0: any time. */
  unsendWindowMs: number;
  /** Distinct emoji one user may put on one message. */
  maxReactionsPerUser: number;
}

export const DEFAULT_LIMITS: LifecycleLimits = {
  editWindowMs: 900_000,
  unsendWindowMs: 0,
  maxReactionsPerUser: 8,
};

export function isTombstone(message: Message): boolean {
  return message.kind === "deleted";
}

function unsent(): DuetError {
  return new DuetError("conflict", "The message was unsent.");
}

/** `user` replaces the text (or caption) of `current` with `text`, at `now`. */
export function editRule(
  current: Message,
  user: string,
  text: string,
  now: number,
  limits: LifecycleLimits,
): MessageChange | null {
  if (isTombstone(current)) throw unsent();
  if (current.from !== user) throw new DuetError("forbidden", "Only the sender may edit a message.");
  if (current.kind === "system") throw new DuetError("forbidden", "System messages cannot be edited.");
  if (limits.editWindowMs <= 0) throw new DuetError("edit_window_closed", "Editing is turned off.");
  if (now - current.ts > limits.editWindowMs) throw new DuetError("edit_window_closed");
  // A repeat (the SDK retrying an edit whose answer was lost) changes nothing and makes no event.
  if (current.text === text) return null;
  // Fields in a fixed order: the edit time after the sent fields, reactions (if any) kept last.
  // The screen's findings and the hook's rewrite were about the old text: the new one's come
  // from its own check (Lifecycle.edit adds them).
  const { reactions, editedAt: _previous, screened: _s, moderated: _m, ...rest } = current;
  const message: Message = { ...rest, text, editedAt: now };
  if (reactions !== undefined) message.reactions = reactions;
  return { type: "edit", message };
}

/** `user` unsends `current` at `now`: its content goes, a tombstone stays. */
export function unsendRule(
  current: Message,
  user: string,
  now: number,
  limits: LifecycleLimits,
): MessageChange | null {
  if (current.from !== user) throw new DuetError("forbidden", "Only the sender may unsend a message.");
  if (isTombstone(current)) return null; // a repeat: 200, nothing changes
  if (current.kind === "system") throw new DuetError("forbidden", "System messages cannot be unsent.");
  if (limits.unsendWindowMs > 0 && now - current.ts > limits.unsendWindowMs)
    throw new DuetError("unsend_window_closed");
  const tombstone: Tombstone = {
    id: current.id,
    from: current.from,
    to: current.to,
    ts: current.ts,
    kind: "deleted",
    deletedAt: now,
  };
  return { type: "delete", message: tombstone as unknown as Message };
}

/** `user` (either side) puts (`on`) or takes back `emoji` on `current`. */
export function reactionRule(
  current: Message,
  user: string,
  emoji: string,
  on: boolean,
  limits: LifecycleLimits,
): MessageChange | null {
  if (isTombstone(current)) {
    if (!on) return null; // its reactions went with it: taking one back is done already
    throw unsent();
  }
  const reactions = current.reactions ?? {};
  const users = reactions[emoji] ?? [];
  const has = users.includes(user);
  if (has === on) return null;
  if (on) {
    let mine = 0;
    for (const list of Object.values(reactions)) if (list.includes(user)) mine++;
    if (mine >= limits.maxReactionsPerUser)
      throw new DuetError(
        "too_many_reactions",
        `At most ${limits.maxReactionsPerUser} different reactions per person per message.`,
      );
  }
  const next: Record<string, string[]> = {};
  for (const [e, list] of Object.entries(reactions)) {
    const updated = e === emoji ? (on ? [...list, user] : list.filter((u) => u !== user)) : list;
    if (updated.length > 0) next[e] = updated;
  }
  if (on && users.length === 0) next[emoji] = [user];
  const { reactions: _old, ...rest } = current;
  const message: Message = { ...rest };
  // Only when there are some: a message nobody reacted to keeps its plain shape (and size).
  if (Object.keys(next).length > 0) message.reactions = next;
  return { type: "reaction", message, user, emoji, on };
}

const MAX_EMOJI_UNITS = 16;
const FORBIDDEN_IN_EMOJI = /[\p{L}\p{N}\p{White_Space}\p{Cc}]|(?![\u200D\u{E0020}-\u{E007F}])\p{Cf}/u;
const PICTOGRAPHIC = /[\p{Extended_Pictographic}\p{Regional_Indicator}]/u;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });

/**
 * One emoji (SPEC 13): at most 16 UTF-16 code units, a single grapheme with a pictograph in it,
 * and no letters, digits, whitespace or control characters (zero-width joiners and variation
 * selectors, which emoji are made of, excepted).
 */
export function emoji(value: unknown): string {
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    value.length > MAX_EMOJI_UNITS ||
    LONE_SURROGATE.test(value) ||
    FORBIDDEN_IN_EMOJI.test(value) ||
    !PICTOGRAPHIC.test(value)
  ) {
    throw new DuetError("invalid_input", "emoji must be one emoji (at most 16 UTF-16 code units).");
  }
  let count = 0;
  for (const _ of graphemes.segment(value)) if (++count > 1) break;
  if (count !== 1) throw new DuetError("invalid_input", "emoji must be exactly one emoji.");
  return value;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The milliseconds a message id (a ULID) was made at: its first 10 characters. */
export function idTime(id: string): number {
  let ms = 0;
  for (const char of id.slice(0, 10)) ms = ms * 32 + CROCKFORD.indexOf(char);
  return ms;
}

/**
 * How far before a message's id time its conversation's last activity may lie and still hold it
 * (an id's time is never earlier than its message's, and ids can run ahead of a clock that stepped
 * back): a store looks for message `id` only among conversations active since idTime(id) - this.
 */
export const LOCATE_SLACK_MS = 10 * 60_000;
