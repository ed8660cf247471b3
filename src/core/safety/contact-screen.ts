import { parsePhoneNumberFromString, validatePhoneNumberLength } from "libphonenumber-js";
import type { ContactKind } from "../types.js";

export type { ContactKind };

/**
 * The contact-info screen of SPEC section 12: a pure function from a message's text to the
 * contact details in it (phone numbers, e-mail addresses, other messengers' handles), with the
 * character ranges they cover, so a caller can flag, mask or refuse them.
 *
 * It is tuned for what people type to get around a dating or marketplace app's rules (digits
 * split by spaces and dots, digits spelled out in English words, "name at gmail dot com") and
 * against ordinary numbers (prices, times, dates, ages, "3 kids", a street number). Its labelled
 * table and precision/recall are in test/core/contact-screen.test.ts.
 */

export interface ContactFinding {
  kind: ContactKind;
  /** UTF-16 offsets into the text: `text.slice(start, end)` is what was found. */
  start: number;
  end: number;
}

export const MASK = "[hidden]";

/** The countries whose number lengths a phone candidate without `+` is checked against. */
const COUNTRIES = [
  "US",
  "GB",
  "DE",
  "FR",
  "ES",
  "IT",
  "NL",
  "IN",
  "BR",
  "MX",
  "RU",
  "JP",
  "AU",
  "CN",
] as const;

const DIGIT_WORDS: Record<string, string> = {
  zero: "0",
  oh: "0",
  o: "0",
  one: "1",
  two: "2",
  three: "3",
  four: "4",
  five: "5",
  six: "6",
  seven: "7",
  eight: "8",
  nine: "9",
  ten: "10",
  eleven: "11",
  twelve: "12",
  thirteen: "13",
  fourteen: "14",
  fifteen: "15",
  sixteen: "16",
  seventeen: "17",
  eighteen: "18",
  nineteen: "19",
  twenty: "2",
  thirty: "3",
  forty: "4",
  fifty: "5",
  sixty: "6",
  seventy: "7",
  eighty: "8",
  ninety: "9",
};
/** Tens words stand for two digits: "fifty five" is 55, "fifty" alone is 50. */
const TENS = new Set(["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]);

/** Runs of digits joined by the separators people put in phone numbers. */
const DIGIT_RUN = /(?:\+|\b00)?\(?\d(?:[\d \t.\-/()]|\u00a0)*\d\)?/g;
/** Runs of number words (and digits), joined by spaces, dashes, dots or commas. */
const WORD_RUN =
  /\b(?:double|triple|zero|oh|o|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|\d+)(?:[\s,.-]+(?:double|triple|zero|oh|o|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|\d+)\b)+/gi;

const CURRENCY_BEFORE = /(?:[$€£¥₹₽]|\b(?:usd|eur|gbp|rs|chf|r\$))\s*$/i;
const AFTER_NUMBER =
  /^\s*(?:[$€£¥₹₽%]|(?:usd|eur|euros?|dollars?|bucks|pounds?|gbp|rupees?|yen|reais|rubles?|k|m|km|mi|miles?|kg|lbs?|g|cm|mm|ml|l|sq|ft|m2|times|x|people|pcs|items?|followers|views|likes|steps|calories|kcal|points|pts|votes|years?|yrs?|days?|hours?|hrs?|min|minutes?|sec|seconds?)\b)/i;
const DATE = /^(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}[./-]\d{1,2}[./-]\d{1,2})$/;
const YEAR_RANGE = /^(?:1[89]|20)\d{2}\s*[-/]\s*(?:(?:1[89]|20)\d{2}|\d{2})$/;
const THOUSANDS = /^\d{1,3}(?:[., ]\d{3}){2,}$/;
/** A decimal: a short integer part ("3.14159"), or a long one with 1-3 decimals ("1234567.89"). */
const DECIMAL = /^(?:\d{1,2}\.\d+|\d+\.\d{1,3})$/;
const ORDER_WORDS =
  /(?:order|invoice|tracking|ref|reference|booking|confirmation|iban|account|acct|card|id|isbn|serial|code|pin|flight|no\.?)\s*(?:number|no\.?|is|[:#])?\s*(?:is\s*)?[:#]?\s*$/i;

function digitsOf(s: string): string {
  return s.replace(/\D/g, "");
}

/** Whether a string of digits has the length of a phone number in one of COUNTRIES. */
function possibleSomewhere(digits: string): boolean {
  if (digits.length < 7 || digits.length > 15) return false;
  if (digits.length === 7) return true; // a local number ("555 1234"); SPEC 12 counts 7+ digits
  for (const country of COUNTRIES) if (validatePhoneNumberLength(digits, country) === undefined) return true;
  return false;
}

function isPhoneCandidate(text: string, start: number, end: number): boolean {
  let raw = text.slice(start, end).trim();
  // Unbalanced brackets at the edges are punctuation, not part of the number.
  if (raw.endsWith(")") && !raw.includes("(")) raw = raw.slice(0, -1);
  const digits = digitsOf(raw);
  if (digits.length < 7) return false;
  const before = text.slice(Math.max(0, start - 24), start);
  const after = text.slice(end, end + 16);
  if (CURRENCY_BEFORE.test(before) || AFTER_NUMBER.test(after)) return false;
  if (ORDER_WORDS.test(before)) return false;
  // Part of a word or a longer token (a hash, an id like ab12345678): not typed as a number.
  if (/[A-Za-z_]$/.test(before) || /^[A-Za-z_]/.test(after)) return false;
  if (/^:\d/.test(after) || /\d:$/.test(before)) return false; // a time like 10:30
  if (DATE.test(raw) || YEAR_RANGE.test(raw) || THOUSANDS.test(raw) || DECIMAL.test(raw)) return false;
  if (raw.startsWith("+") || raw.startsWith("00")) {
    const international = raw.startsWith("00") ? `+${raw.slice(2)}` : raw;
    const parsed = parsePhoneNumberFromString(international);
    return parsed?.isPossible() === true;
  }
  return possibleSomewhere(digits);
}

function findPhones(text: string, out: ContactFinding[]): void {
  for (const m of text.matchAll(DIGIT_RUN)) {
    const start = m.index;
    let end = start + m[0].length;
    // Trailing separators belong to the sentence, not the number.
    while (end > start && /[\s.\-/(]/.test(text[end - 1] ?? "")) end--;
    if (isPhoneCandidate(text, start, end)) out.push({ kind: "phone", start, end });
  }
  if (!/(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ty|een)\b/i.test(text)) return;
  for (const m of text.matchAll(WORD_RUN)) {
    const tokens = m[0].toLowerCase().split(/[\s,.-]+/);
    let digits = "";
    let words = 0;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i] ?? "";
      if (/^\d+$/.test(token)) {
        digits += token;
        continue;
      }
      // "o" and "oh" are zeros only among other number words, never on their own at an edge.
      if ((token === "o" || token === "oh") && (i === 0 || i === tokens.length - 1)) continue;
      words++;
      if (token === "double" || token === "triple") {
        // "double five" is 55: the next word's digit, two or three times.
        const next =
          DIGIT_WORDS[tokens[i + 1] ?? ""] ?? (/^\d$/.test(tokens[i + 1] ?? "") ? tokens[i + 1] : undefined);
        if (next !== undefined && next.length === 1) {
          digits += next.repeat(token === "double" ? 2 : 3);
          i++;
        }
        continue;
      }
      if (TENS.has(token)) {
        const next = tokens[i + 1] ?? "";
        const unit = DIGIT_WORDS[next];
        if (unit !== undefined && unit.length === 1 && !TENS.has(next) && next !== "oh" && next !== "o") {
          digits += DIGIT_WORDS[token] + unit;
          i++;
          continue;
        }
        digits += `${DIGIT_WORDS[token]}0`;
        continue;
      }
      digits += DIGIT_WORDS[token] ?? "";
    }
    if (words === 0 || digits.length < 7 || digits.length > 15) continue;
    out.push({ kind: "phone", start: m.index, end: m.index + m[0].length });
  }
}

const TLDS =
  "com|net|org|edu|gov|io|co|me|info|biz|de|fr|uk|es|it|nl|ru|br|in|jp|au|ca|ch|se|no|pl|mx|us|eu|app|dev|xyz";
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b/g;
/** "name at gmail dot com", "name (at) gmail [dot] com", "name@gmail dot com", "name at gmail.com". */
const SPELLED_EMAIL = new RegExp(
  String.raw`\b([A-Za-z0-9._%+-]{2,64})\s*(?:@|[(\[{<]\s*at\s*[)\]}>]|\s+at\s+)\s*([A-Za-z0-9-]{2,63})` +
    String.raw`\s*(?:\.|[(\[{<]\s*dot\s*[)\]}>]|\s+dot\s+)\s*(${TLDS})\b`,
  "gi",
);
/** Words that stand before "at" in ordinary sentences ("look at google dot com" is a site, not a mailbox). */
const NOT_A_MAILBOX = new Set(
  "look looking looked see meet meeting me us you him her them it is was be are am arrive arrived stay staying work working works worked live living lives be been home here there and or but good great best bad better worse laugh laughing smile smiling shop shopping buy bought sale available found find check eat eating lunch dinner".split(
    " ",
  ),
);

function findEmails(text: string, out: ContactFinding[]): void {
  if (text.includes("@")) {
    for (const m of text.matchAll(EMAIL))
      out.push({ kind: "email", start: m.index, end: m.index + m[0].length });
  }
  if (!/\b(?:at|@)\b|\(at\)|\[at\]/i.test(text)) return;
  for (const m of text.matchAll(SPELLED_EMAIL)) {
    const local = (m[1] ?? "").toLowerCase();
    const spelledAt = !/@/.test(m[0]);
    if (spelledAt && NOT_A_MAILBOX.has(local)) continue;
    out.push({ kind: "email", start: m.index, end: m.index + m[0].length });
  }
}

const PLATFORM =
  "instagram|insta|ig|snapchat|snap|sc|telegram|tg|whatsapp|whats app|kik|wechat|signal|tiktok|line";
/** Cheap tests that decide whether the costlier handle patterns run at all. */
const PLATFORM_WORD = new RegExp(String.raw`\b(?:${PLATFORM})\b`, "i");
const LINK_HINT = /wa\.me|t\.me|telegram\.me|instagram\.com|instagr\.am|snapchat\.com|tiktok\.com/i;
/** Links that open a chat or a profile elsewhere. */
const PROFILE_LINK =
  /\b(?:https?:\/\/)?(?:www\.)?(?:wa\.me\/\+?[0-9]{6,15}|t\.me\/[A-Za-z0-9_]{3,32}|telegram\.me\/[A-Za-z0-9_]{3,32}|(?:instagram\.com|instagr\.am)\/[A-Za-z0-9_.]{1,30}|snapchat\.com\/add\/[A-Za-z0-9_.-]{2,30}|tiktok\.com\/@[A-Za-z0-9_.]{2,24})/gi;
/** "insta: @jane", "my snap is jane.doe99", "telegram - @jane". */
const HANDLE_AFTER = new RegExp(
  String.raw`\b(?:${PLATFORM})\b((?:\s*(?:[:=\-–]|\bis\b|\bat\b|\bon\b|\bhandle\b|\bname\b|\bme\b|\bid\b))*)\s*(@?[A-Za-z0-9_][A-Za-z0-9_.]{1,29})`,
  "gi",
);
/** "@jane_doe on insta", "@jane (ig)". */
const HANDLE_BEFORE = new RegExp(
  String.raw`@[A-Za-z0-9_][A-Za-z0-9_.]{1,29}(?=\s*(?:[(\[]\s*|\bon\s+|\bin\s+)?(?:${PLATFORM})\b)`,
  "gi",
);
/** Words a handle-looking token after a platform name usually is instead. */
const NOT_A_HANDLE = new Set(
  "is at on me my the a an and or but if so to too please pls plz later tomorrow today tonight now soon instead there here it its you your u ur we us our i im private public down dead broken banned new old account acc profile story stories dm dms message msg messages chat call video name handle id username user number no yes ok okay lol haha app apps for with from last yesterday year week month ago again anymore".split(
    " ",
  ),
);

function findHandles(text: string, out: ContactFinding[]): void {
  if (LINK_HINT.test(text)) {
    for (const m of text.matchAll(PROFILE_LINK))
      out.push({ kind: "handle", start: m.index, end: m.index + m[0].length });
  }
  if (!PLATFORM_WORD.test(text)) return;
  for (const m of text.matchAll(HANDLE_AFTER)) {
    const joiner = m[1] ?? "";
    const handle = m[2] ?? "";
    const bare = handle.replace(/^@/, "").replace(/\.+$/, "");
    const start = m.index + m[0].length - handle.length;
    if (bare.length < 2) continue;
    if (!handle.startsWith("@")) {
      // Without an @ the token must look like a handle, not a word of the sentence.
      if (NOT_A_HANDLE.has(bare.toLowerCase())) continue;
      if (/^\d+$/.test(bare)) continue; // a number: the phone screen judges it
      // and either carry a handle's marks (digits, _ or .) or be announced ("insta: jane", "snap is jane").
      if (!/[\d_.]/.test(bare) && !/[:=]|\bis\b/i.test(joiner)) continue;
    }
    out.push({ kind: "handle", start, end: start + handle.replace(/\.+$/, "").length });
  }
  if (text.includes("@")) {
    for (const m of text.matchAll(HANDLE_BEFORE))
      out.push({ kind: "handle", start: m.index, end: m.index + m[0].length });
  }
}

/**
 * The contact details in `text`, in order, none overlapping (of two overlapping findings the one
 * that starts first, then the longer, is kept: `wa.me/15551234567` is one handle, not a handle
 * and a phone). Costs little on text with no digit, "@", or platform word.
 */
export function screenText(text: string): ContactFinding[] {
  const found: ContactFinding[] = [];
  if (/\d/.test(text) || /(?:one|two|three|four|five|six|seven|eight|nine|zero)\b/i.test(text))
    findPhones(text, found);
  findEmails(text, found);
  findHandles(text, found);
  if (found.length <= 1) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: ContactFinding[] = [];
  for (const f of found) {
    const last = out[out.length - 1];
    if (last !== undefined && f.start < last.end) {
      // An e-mail or a handle link that contains digits wins over the phone inside it.
      if (f.end > last.end && f.kind !== "phone")
        out[out.length - 1] = { kind: f.kind, start: last.start, end: f.end };
      continue;
    }
    out.push(f);
  }
  return out;
}

/** `text` with each finding replaced by `[hidden]`. */
export function maskText(text: string, findings: readonly ContactFinding[]): string {
  let out = "";
  let at = 0;
  for (const f of findings) {
    out += text.slice(at, f.start) + MASK;
    at = f.end;
  }
  return out + text.slice(at);
}

/** The distinct kinds found, in a fixed order (what a message's `screened` holds). */
export function kindsOf(findings: readonly ContactFinding[]): ContactKind[] {
  const kinds: ContactKind[] = [];
  for (const kind of ["phone", "email", "handle"] as const)
    if (findings.some((f) => f.kind === kind)) kinds.push(kind);
  return kinds;
}
