import { DuetError } from "./errors.js";
import { LIMITS } from "./limits.js";
import type { UserEvent } from "./ports/user-event.js";
import { isUserId, SYSTEM_USER } from "./validate.js";

/**
 * SPEC section 11: who may talk to whom. `open`: anyone may message anyone not blocking them,
 * except a pair the app backend unmatched (until it matches them again); `matched`: only pairs
 * the app backend matched.
 */
export type PairsMode = "open" | "matched";

/** The contact-info screen of a pair (SPEC 12), or null to follow the server's `--screen`. */
export type PairScreen = "off" | "flag" | "mask" | "reject";
export const PAIR_SCREENS: readonly PairScreen[] = ["off", "flag", "mask", "reject"];

/** A pair as the server API answers it. `users` sorted, so the same pair always reads the same. */
export interface Pair {
  users: [string, string];
  /** When the pair was (last) matched, ms. */
  since: number;
  screen: PairScreen | null;
}

/** What a pair's state says about two users, read in one store call. */
export interface Relation {
  /** The pair record's state: none, matched, or unmatched (kept so `open` mode refuses it too). */
  pair: "none" | "matched" | "unmatched";
  /** a blocked b / b blocked a. */
  aBlockedB: boolean;
  bBlockedA: boolean;
}

export interface MatchResult {
  pair: Pair;
  /** False when the pair was matched already (only its screen may have changed). */
  created: boolean;
  /** Both users' `pair` events (none when the pair existed). */
  events: UserEvent[];
}

export interface UnmatchResult {
  /** Both users' `pair` events. */
  events: UserEvent[];
  /** Messages erased (0 with history kept). */
  erased: number;
}

/**
 * The pairs port (stores implement it; test/stores/pairs-contract.ts holds them to it).
 *
 * - A pair is unordered: (a, b) and (b, a) are one pair.
 * - `match` and `unmatch` append a `pair` event to both users' logs, atomically with the state.
 * - `unmatch` with `erase` deletes the conversation's messages, read markers, unread counts, list
 *   entries and the events that carried them (message and read events of both logs): not hidden,
 *   gone. The store does it in bounded steps, so a long conversation does not hold it.
 * - The store's `send` refuses a non-system message with `not_matched` as the mode says, in the
 *   same atomic step as storing it: a send racing an unmatch never lands after the erasure.
 */
export interface PairStore {
  match(a: string, b: string, screen: PairScreen | null | undefined): Promise<MatchResult>;
  /** Null when the two were never matched, or are unmatched now. */
  pair(a: string, b: string): Promise<Pair | null>;
  /** The user's current pairs, newest first. */
  pairsOf(user: string): Promise<Pair[]>;
  /**
   * Throws not_found when the two are not matched now. `force` (with `erase`; SPEC 15's erase of
   * a user) ends the conversation whatever the pair's state (none in `open` mode, or unmatched
   * with its history kept), without matching it first: each side whose pair or listed
   * conversation it ends gets one `unmatched` event (historyDeleted), a side with neither none.
   */
  unmatch(a: string, b: string, erase: boolean, force?: boolean): Promise<UnmatchResult>;
  relation(a: string, b: string): Promise<Relation>;
}

/** Checks a pair's two ids: valid user ids, not the system user, not the same user twice. */
export function pairIds(a: unknown, b: unknown): [string, string] {
  if (!isUserId(a) || !isUserId(b))
    throw new DuetError(
      "invalid_input",
      `Both users of a pair must be 1-${LIMITS.userIdLength} characters of A-Z a-z 0-9 _ . @ -.`,
    );
  if (a === b) throw new DuetError("invalid_input", "A user cannot be paired with themselves.");
  if (a === SYSTEM_USER || b === SYSTEM_USER)
    throw new DuetError("invalid_input", "The system user cannot be paired.");
  return a < b ? [a, b] : [b, a];
}

export function pairScreen(value: unknown): PairScreen | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== "string" || !(PAIR_SCREENS as readonly string[]).includes(value))
    throw new DuetError("invalid_input", `screen must be null or one of ${PAIR_SCREENS.join(", ")}.`);
  return value as PairScreen;
}

/** May a and b talk (send, type, read, react, see presence) under `mode`? Throws why not. */
export function checkRelation(mode: PairsMode, r: Relation): void {
  if (r.aBlockedB || r.bBlockedA) throw new DuetError("blocked");
  if (r.pair === "unmatched" || (mode === "matched" && r.pair !== "matched"))
    throw new DuetError("not_matched");
}
