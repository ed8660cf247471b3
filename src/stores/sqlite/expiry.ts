/**
 * SPEC 15 on the embedded store (see ExpiryStore in core/ports/expiry.ts for the contract). It
 * shares SqliteStore's connection and write queue, so a ttl change and a sweep commit in the same
 * ordered batches as sends: a send queued after setTtl gets the new ttl.
 *
 * The sweep erases as an unsend does (stores/sqlite/lifecycle.ts): the row becomes the tombstone
 * (secure_delete zeroes the freed bytes; message events are rebuilt from the row, so they replay
 * as the tombstone), the id goes into `unsent` (not unread), and out of `expiring`. No event is
 * appended: both sides know expiresAt and hid the message at that moment already.
 */
import type Database from "better-sqlite3";
import { expiredTombstone, type SweepResult } from "../../core/expiry.js";
import type { ExpiryStore } from "../../core/ports/expiry.js";
import type { UserEvent } from "../../core/ports/store.js";
import type { Message, TtlEvent } from "../../core/types.js";
import { conversationKey } from "./schema.js";
import type { SqliteInternals, SqliteStore } from "./sqlite-store.js";

export class SqliteExpiry implements ExpiryStore {
  private readonly x: SqliteInternals;
  private readonly stmt;

  constructor(store: SqliteStore) {
    this.x = store.internals();
    const db: Database.Database = this.x.db;
    this.stmt = {
      setTtl: db.prepare(
        "INSERT INTO ttls (conv, seconds) VALUES (?, ?) ON CONFLICT (conv) DO UPDATE SET seconds = excluded.seconds",
      ),
      dropTtl: db.prepare("DELETE FROM ttls WHERE conv = ?"),
      insertEvent: db.prepare("INSERT INTO events (user, seq, ts, body, msg) VALUES (?, ?, ?, ?, NULL)"),
      // Oldest expiry first, through expiring_by_time: a bounded range scan, never the messages table.
      due: db
        .prepare("SELECT conv, id, rid FROM expiring WHERE expires_at <= ? ORDER BY expires_at LIMIT ?")
        .raw(),
      body: db.prepare("SELECT body FROM messages WHERE rid = ?").pluck(),
      setBody: db.prepare("UPDATE messages SET body = ? WHERE rid = ?"),
      addUnsent: db.prepare("INSERT OR IGNORE INTO unsent (conv, sender, id) VALUES (?, ?, ?)"),
      dropExpiring: db.prepare("DELETE FROM expiring WHERE conv = ? AND id = ?"),
    };
  }

  setTtl(user: string, peer: string, seconds: number): Promise<{ seconds: number; events: UserEvent[] }> {
    return this.x.enqueue(() => {
      const conv = conversationKey(user, peer);
      const current = this.x.ttls.get(conv) ?? 0;
      if (current === seconds) return { seconds, events: [] };
      if (seconds === 0) {
        this.stmt.dropTtl.run(conv);
        this.x.ttls.delete(conv);
      } else {
        this.stmt.setTtl.run(conv, seconds);
        this.x.ttls.set(conv, seconds);
      }
      const now = Date.now();
      return {
        seconds,
        events: [this.append(user, peer, seconds, now), this.append(peer, user, seconds, now)],
      };
    });
  }

  private append(owner: string, other: string, seconds: number, now: number): UserEvent {
    const seq = this.x.nextSeq(owner);
    const event: TtlEvent = { type: "ttl", seq, peer: other, seconds };
    const json = JSON.stringify(event);
    this.x.appended(owner, seq, this.stmt.insertEvent.run(owner, seq, now, json).lastInsertRowid);
    return { user: owner, event, json };
  }

  ttl(user: string, peer: string): Promise<number> {
    return this.x.read(() => this.x.ttls.get(conversationKey(user, peer)) ?? 0);
  }

  sweep(now: number, limit: number): Promise<SweepResult> {
    return this.x.enqueue(() => {
      const rows = this.stmt.due.all(now, limit) as [string, string, number][];
      let erased = 0;
      for (const [conv, id, rid] of rows) {
        const body = this.stmt.body.get(rid) as string | undefined;
        // Gone with its conversation (an unmatch that erased history): only the row here is left.
        if (body !== undefined) {
          const message = JSON.parse(body) as Message;
          if (message.kind !== "deleted") {
            this.stmt.setBody.run(JSON.stringify(expiredTombstone(message, message.expiresAt ?? now)), rid);
            this.stmt.addUnsent.run(conv, message.from, id);
            erased++;
          }
        }
        this.stmt.dropExpiring.run(conv, id);
      }
      return { erased, more: rows.length === limit };
    });
  }
}
