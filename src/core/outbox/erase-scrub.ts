import type { Outbox, OutboxEntry } from "../ports/outbox.js";

/** Entries read per outbox call while scrubbing: bounded work per step, whatever the outbox's size. */
const SCRUB_PAGE = 500;

type Payload = {
  user?: unknown;
  from?: unknown;
  peer?: unknown;
  message?: { from?: unknown; to?: unknown };
  payload?: { user?: unknown; from?: unknown };
};

/**
 * Whether an outbox entry carries something of `user`'s conversations that the erase removes
 * (SPEC 15): a message webhook (message.created/updated/deleted/flagged) of a message they sent
 * or received (the whole conversation is erased, both sides), a `notification` webhook or a Web
 * Push (`push`) with a preview to or from them, a pending `notify`. Kept: `pair.unmatched` and
 * `user.erased` (ids only, the erase's own news) and `report.created` (reports are kept until
 * resolved, see docs/PRIVACY.md).
 */
export function carriesUser(entry: OutboxEntry, user: string): boolean {
  // Most entries never name the user: a substring test spares parsing them.
  if (!entry.data.includes(JSON.stringify(user))) return false;
  if (entry.type === "report.created" || entry.type === "pair.unmatched" || entry.type === "user.erased")
    return false;
  let data: Payload;
  try {
    data = JSON.parse(entry.data) as Payload;
  } catch {
    return false;
  }
  if (data === null || typeof data !== "object") return false;
  const named = (...values: unknown[]) => values.includes(user);
  if (data.message !== undefined && data.message !== null && named(data.message.from, data.message.to))
    return true;
  if (entry.type === "notification" || entry.type === "notify") return named(data.user, data.from, data.peer);
  if (entry.type === "push") return named(data.user, data.payload?.user, data.payload?.from);
  return false;
}

/**
 * Removes every outbox entry, pending or failed, that carries `user`'s conversations (carriesUser),
 * a page at a time. Idempotent: a repeated erase scans again and finds nothing. An entry a
 * dispatcher holds in memory at this moment (mid-delivery) may still go out once; its ack is then
 * a no-op. Answers how many entries went.
 */
export async function scrubOutbox(outbox: Outbox, user: string): Promise<number> {
  let removed = 0;
  let cursor: string | null = null;
  do {
    const page: { entries: OutboxEntry[]; next: string | null } = await outbox.scan(cursor, SCRUB_PAGE);
    removed += await outbox.remove(page.entries.filter((e) => carriesUser(e, user)).map((e) => e.id));
    cursor = page.next;
  } while (cursor !== null);
  return removed;
}
