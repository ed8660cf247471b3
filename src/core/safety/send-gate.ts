import { DuetError } from "../errors.js";
import type { ContactKind, SendInput } from "../types.js";
import { kindsOf, maskText, screenText } from "./contact-screen.js";
import { ModerationFailure, type ModerationRequest, type Moderator } from "./moderation.js";

export type ScreenMode = "off" | "flag" | "mask" | "reject";
export const SCREEN_MODES: readonly ScreenMode[] = ["off", "flag", "mask", "reject"];

/** Why a stored message was flagged (the `message.flagged` webhook carries it). */
export type FlagReason = "contact_info" | "moderation_unavailable";

/**
 * What the safety checks need to know about a pair (SPEC 11): the pair's own screen setting (null:
 * the server's) and since when they are matched. Implemented by the pairs module; until a pair
 * lookup is given, every pair uses the server-wide screen and the hook gets `pair: null`.
 */
export interface PairSafety {
  since: number;
  screen: ScreenMode | null;
}
export type PairSafetyLookup = (a: string, b: string) => Promise<PairSafety | null>;

export interface SafetyOptions {
  /** DUET_SCREEN. */
  screen: ScreenMode;
  /** DUET_IMAGE_HOSTS, lower-cased; empty: any host. */
  imageHosts: readonly string[];
  /** The moderation hook (DUET_MODERATION_URL), if any. */
  moderator?: Moderator;
  /** DUET_MODERATION_FAILURE. */
  moderationFailure: "open" | "closed";
  /** The per-pair screen and `since` (the pairs module). */
  pairLookup?: PairSafetyLookup;
}

/** A send (or edit) that passed the checks: what to store, and why to flag it once stored. */
export interface Checked {
  input: SendInput;
  flagged: FlagReason[] | null;
}

/** The outcome of checking an edit's new text. */
export interface CheckedText {
  text: string;
  screened?: ContactKind[];
  moderated?: true;
  flagged: FlagReason[] | null;
}

/**
 * SPEC 12's checks where a send is decided: image hosts, the contact-info screen and the
 * moderation hook, in that order (the cheapest refusals first; the hook sees the text as it would
 * be stored). The chat only builds one when something is configured, so a server with none of it
 * pays nothing per send.
 */
export class SafetyGate {
  private readonly options: SafetyOptions;
  private readonly hosts: Set<string>;
  private readonly maxText: number;

  constructor(options: SafetyOptions, maxText: number) {
    this.options = options;
    this.hosts = new Set(options.imageHosts.map((h) => h.toLowerCase()));
    this.maxText = maxText;
  }

  /** Whether any check is configured (otherwise the chat keeps no gate). */
  static needed(options: SafetyOptions): boolean {
    return (
      options.screen !== "off" ||
      options.imageHosts.length > 0 ||
      options.moderator !== undefined ||
      options.pairLookup !== undefined
    );
  }

  /** Checks a user's send; throws DuetError (host_not_allowed, message_rejected, moderation_unavailable). */
  async check(input: SendInput): Promise<Checked> {
    this.checkHosts(input);
    const result = await this.checkText(input.from, input.to, input, input.text);
    const checked: SendInput = result.text === input.text ? input : { ...input, text: result.text };
    if (result.screened !== undefined) checked.screened = result.screened;
    if (result.moderated === true) checked.moderated = true;
    return { input: checked, flagged: result.flagged };
  }

  /**
   * Checks an edit's new text (SPEC 13: "screened and moderated like a send"): for the message
   * lifecycle's edit, which stores what this returns.
   */
  async checkEdit(
    message: Pick<SendInput, "from" | "to" | "kind" | "image" | "links">,
    text: string,
  ): Promise<CheckedText> {
    const result = await this.checkText(message.from, message.to, message, text);
    return { ...result, text: result.text ?? text };
  }

  private checkHosts(input: SendInput): void {
    if (this.hosts.size === 0) return;
    const urls = input.links.map((l) => l.url);
    if (input.image !== null) urls.push(input.image.url);
    for (const url of urls) {
      // Validation has already parsed these as http(s) URLs.
      const host = new URL(url).hostname.toLowerCase();
      if (!this.hosts.has(host))
        throw new DuetError(
          "host_not_allowed",
          `Images and links may only point to ${[...this.hosts].join(", ")}.`,
        );
    }
  }

  private async checkText(
    from: string,
    to: string,
    message: Pick<SendInput, "kind" | "image" | "links">,
    original: string | null,
  ): Promise<{
    text: string | null;
    screened?: ContactKind[];
    moderated?: true;
    flagged: FlagReason[] | null;
  }> {
    const pair = this.options.pairLookup === undefined ? null : await this.options.pairLookup(from, to);
    const mode = pair?.screen ?? this.options.screen;
    let text = original;
    let screened: ContactKind[] | undefined;
    const flagged: FlagReason[] = [];
    if (mode !== "off" && text !== null) {
      const findings = screenText(text);
      if (findings.length > 0) {
        if (mode === "reject")
          throw new DuetError(
            "message_rejected",
            "The message contains contact details.",
            undefined,
            "contact_info",
          );
        screened = kindsOf(findings);
        if (mode === "mask") text = maskText(text, findings);
        else flagged.push("contact_info");
      }
    }
    let moderated: true | undefined;
    const moderator = this.options.moderator;
    if (moderator !== undefined) {
      const request: ModerationRequest = {
        message: { from, to, kind: message.kind, text, image: message.image, links: message.links },
        pair: pair === null ? null : { since: pair.since },
      };
      try {
        const verdict = await moderator.moderate(request);
        if (verdict.action === "reject")
          throw new DuetError(
            "message_rejected",
            "The message was rejected by moderation.",
            undefined,
            verdict.reason,
          );
        if (verdict.action === "rewrite" && verdict.text !== text) {
          text = verdict.text.length > this.maxText ? verdict.text.slice(0, this.maxText) : verdict.text;
          moderated = true;
        }
      } catch (err) {
        if (!(err instanceof ModerationFailure)) throw err;
        if (this.options.moderationFailure === "closed")
          throw new DuetError("moderation_unavailable", undefined, 5);
        flagged.push("moderation_unavailable");
      }
    }
    const out: {
      text: string | null;
      screened?: ContactKind[];
      moderated?: true;
      flagged: FlagReason[] | null;
    } = {
      text,
      flagged: flagged.length > 0 ? flagged : null,
    };
    if (screened !== undefined) out.screened = screened;
    if (moderated === true) out.moderated = true;
    return out;
  }
}
