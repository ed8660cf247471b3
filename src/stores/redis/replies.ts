import { expiredView } from "../../core/expiry.js";
import type { EventPage, SendResult, UserEvent } from "../../core/ports/store.js";
import type { ConversationSummary, Message, ReadEvent, SendInput, StoredEvent } from "../../core/types.js";
import { fullBody, messageOf, randomIdPart } from "./message-body.js";

/**
 * The scripts' arguments and replies, encoded and decoded: what each Lua file takes and answers
 * (see its header) turned into the store's types. No Redis here, so each is a plain function.
 */

/** The arguments both send scripts begin with (duetStoreMessage, and duetSend after its keys). */
export function messageArgs(
  input: SendInput,
  parts: { head: string; tail: string },
  checks: "1" | "2",
): string[] {
  return [
    input.from,
    input.to,
    input.clientMsgId ?? "",
    input.kind === "system" ? "0" : checks,
    randomIdPart(),
    parts.head,
    parts.tail,
  ];
}

/** A new message's result from duetSend's reply {"new", id, ts, sender seq, recipient seq, expiresAt or ""}. */
export function sendResult(
  r: unknown[],
  parts: { head: string; tail: string },
  input: SendInput,
  carriedBy: "store" | undefined,
): SendResult {
  const expiresAt = String(r[5] ?? "");
  const body = fullBody(String(r[1]), String(r[2]), parts, expiresAt);
  const message = messageOf(String(r[1]), Number(r[2]), input, expiresAt);
  return {
    message,
    duplicate: false,
    events: messageEvents(message, body, Number(r[3]), Number(r[4]), carriedBy),
    json: body,
  };
}

/**
 * Both sides' `message` events (a seq of 0: that side appended none), each with its JSON made
 * from the stored body (as the log holds it).
 */
export function messageEvents(
  message: Message,
  body: string,
  senderSeq: number,
  recipientSeq: number,
  carriedBy: "store" | undefined,
): UserEvent[] {
  const events: UserEvent[] = [];
  const event = (user: string, seq: number): UserEvent => ({
    user,
    event: { type: "message", seq, message },
    json: `{"type":"message","seq":${seq},"message":${body}}`,
    carriedBy,
  });
  if (senderSeq > 0) events.push(event(message.from, senderSeq));
  if (recipientSeq > 0) events.push(event(message.to, recipientSeq));
  return events;
}

/** A read marker as the scripts answer it: "" when nothing was ever read. */
export function markerOf(value: unknown): string | null {
  return String(value) || null;
}

/** Both sides' `read` events for `upTo` (a seq of 0: that side appended none). */
export function readEvents(
  reader: string,
  peer: string,
  upTo: string | null,
  readerSeq: number,
  peerSeq: number,
): UserEvent[] {
  if (upTo === null) return [];
  const events: UserEvent[] = [];
  const event = (seq: number, other: string): ReadEvent => ({
    type: "read",
    seq,
    peer: other,
    reader,
    upTo,
  });
  if (readerSeq > 0) events.push({ user: reader, event: event(readerSeq, peer) });
  if (peerSeq > 0) events.push({ user: peer, event: event(peerSeq, reader) });
  return events;
}

/** Stored message bodies (JSON) as messages, each expired one (SPEC 15) as its tombstone. */
export function messagesOf(bodies: unknown[], now = Date.now()): Message[] {
  return (bodies as string[]).map((b) => expiredView(JSON.parse(b) as Message, now));
}

/** duetHistory's reply {hasMore, body...}. */
export function historyPage(r: unknown[]): { messages: Message[]; hasMore: boolean } {
  return { messages: messagesOf(r.slice(1)), hasMore: Number(r[0]) === 1 };
}

/** The peers of a user's `convs` read WITHSCORES (peer, updatedAt, ...), in order. */
export function conversationPeers(rows: string[]): string[] {
  const peers: string[] = [];
  for (let i = 0; i < rows.length; i += 2) peers.push(rows[i] ?? "");
  return peers;
}

/**
 * Summaries from a user's `convs` rows (peer, updatedAt, ...) and, per row, duetUnreadCount's
 * reply {unread, ttl, last body or null}.
 */
export function conversationRows(
  rows: string[],
  details: [number, number, string | null][],
): ConversationSummary[] {
  const summaries: ConversationSummary[] = [];
  const now = Date.now();
  for (let i = 0; i < rows.length; i += 2) {
    const [unread, ttl, body] = details[i / 2] ?? [0, 0, null];
    summaries.push({
      peer: rows[i] ?? "",
      unread: Number(unread),
      lastMessage: typeof body === "string" ? expiredView(JSON.parse(body) as Message, now) : null,
      updatedAt: Number(rows[i + 1]),
      ttl: Number(ttl),
    });
  }
  return summaries;
}

/**
 * A duetEventsSince item that is a reference ("<seq> <id> <peer>" for a `message` event,
 * "<seq> <id> <peer> edit" for an `edit`) rather than an event's JSON.
 */
function isRef(item: string): boolean {
  return item.charCodeAt(0) !== 123; // "{"
}

/** The messages duetEventsSince's reference items name, by peer (one conversation each). */
export function messageRefs(r: unknown[]): Map<string, string[]> {
  const refs = new Map<string, string[]>();
  for (let i = 2; i < r.length; i++) {
    const item = String(r[i]);
    if (!isRef(item)) continue;
    const [, id = "", peer = ""] = item.split(" ");
    const ids = refs.get(peer);
    if (ids === undefined) refs.set(peer, [id]);
    else ids.push(id);
  }
  return refs;
}

/**
 * duetEventsSince's reply {head, reset, item...} as a page; `bodies` ("<id> <peer>" -> body) holds
 * what the references point to. An expired message replays as its tombstone; a reference to a
 * message that is gone (its conversation erased meanwhile, the log being scrubbed) is left out.
 */
export function eventPage(r: unknown[], bodies: Map<string, string>): EventPage {
  const now = Date.now();
  const events: StoredEvent[] = [];
  for (let i = 2; i < r.length; i++) {
    const item = String(r[i]);
    if (isRef(item)) {
      const [seq = "", id = "", peer = "", kind] = item.split(" ");
      const body = bodies.get(`${id} ${peer}`);
      if (body === undefined) continue;
      const message = expiredView(JSON.parse(body) as Message, now);
      events.push({ type: kind === "edit" ? "edit" : "message", seq: Number(seq), message });
      continue;
    }
    const event = JSON.parse(item) as StoredEvent;
    if (event.type === "message" || event.type === "edit") event.message = expiredView(event.message, now);
    events.push(event);
  }
  return { events, head: Number(r[0]), reset: Number(r[1]) === 1 };
}
