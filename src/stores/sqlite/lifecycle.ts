/**
 * SPEC 13 on the embedded store (see LifecycleStore in core/ports/lifecycle.ts for the contract).
 * It shares SqliteStore's connection and write queue, so a change commits in the same ordered
 * batches as sends, and a rule sees the state every earlier write left.
 *
 * Erasure: the connection runs with `secure_delete` on (SqliteStore), so SQLite zeroes whatever a
 * write frees (a replaced row, its overflow pages, the stale copies a page split leaves) instead of
 * leaving old text in free space; an unsend rewrites the row as the tombstone; message and edit events hold no text of their own (they are rebuilt
 * from the row, see SqliteStore.eventsSince), so the row is the only copy. The WAL keeps the old
 * page images until it is checkpointed and rewritten.
 */
import type Database from "better-sqlite3";
import { expiredView } from "../../core/expiry.js";
import { idTime, LOCATE_SLACK_MS, type MessageChange } from "../../core/lifecycle-rules.js";
import {
  DEFAULT_SETTINGS,
  type LifecycleStore,
  type PeerReceipts,
  type UpdatedMessage,
} from "../../core/ports/lifecycle.js";
import type { ReadResult, UserEvent } from "../../core/ports/store.js";
import type { Message, Settings, StoredEvent } from "../../core/types.js";
import { conversationKey } from "./schema.js";
import type { SqliteInternals, SqliteStore } from "./sqlite-store.js";

type Row = Record<string, unknown>;

export class SqliteLifecycle implements LifecycleStore {
  private readonly x: SqliteInternals;
  private readonly db: Database.Database;
  private readonly stmt;

  constructor(store: SqliteStore) {
    this.x = store.internals();
    const db = this.x.db;
    this.db = db;
    this.stmt = {
      candidates: db
        .prepare("SELECT peer FROM conversations WHERE user = ? AND updated_at >= ? ORDER BY updated_at DESC")
        .pluck(),
      message: db.prepare("SELECT rid, body FROM messages WHERE conv = ? AND id = ?"),
      setBody: db.prepare("UPDATE messages SET body = ? WHERE rid = ?"),
      addUnsent: db.prepare("INSERT OR IGNORE INTO unsent (conv, sender, id) VALUES (?, ?, ?)"),
      // SPEC 15: an unsent message is no longer the sweeper's (nor counted as expired-unread).
      dropExpiring: db.prepare("DELETE FROM expiring WHERE conv = ? AND id = ?"),
      insertEvent: db.prepare("INSERT INTO events (user, seq, ts, body, msg) VALUES (?, ?, ?, ?, ?)"),
      delivered: db.prepare("SELECT upto FROM delivered WHERE user = ? AND peer = ?").pluck(),
      setDelivered: db.prepare(
        `INSERT INTO delivered (user, peer, upto) VALUES (?, ?, ?)
         ON CONFLICT (user, peer) DO UPDATE SET upto = excluded.upto`,
      ),
      lastFromPeerUpTo: db
        .prepare("SELECT id FROM messages WHERE conv = ? AND sender = ? AND id <= ? ORDER BY id DESC LIMIT 1")
        .pluck(),
      readMarker: db.prepare("SELECT read_upto FROM conversations WHERE user = ? AND peer = ?").pluck(),
      settings: db.prepare("SELECT body FROM settings WHERE user = ?").pluck(),
      setSettings: db.prepare(
        "INSERT INTO settings (user, body) VALUES (?, ?) ON CONFLICT (user) DO UPDATE SET body = excluded.body",
      ),
      mute: db.prepare(
        "INSERT INTO mutes (user, peer, until) VALUES (?, ?, ?) ON CONFLICT (user, peer) DO UPDATE SET until = excluded.until",
      ),
      unmute: db.prepare("DELETE FROM mutes WHERE user = ? AND peer = ?"),
      mutes: db.prepare("SELECT peer, until FROM mutes WHERE user = ?"),
    };
  }

  updateMessage(
    user: string,
    id: string,
    rule: (current: Message) => MessageChange | null,
  ): Promise<UpdatedMessage | null> {
    return this.x.enqueue(() => {
      this.x.writeSummaries(); // updated_at of this batch's sends, which locating relies on
      const found = this.locate(user, id);
      if (found === null) return null;
      const { peer, rid, body } = found;
      // An expired message (SPEC 15) is its tombstone to every rule, swept or not.
      const current = expiredView(JSON.parse(body) as Message, Date.now());
      const change = rule(current);
      if (change === null) return { message: current, peer, events: [] };
      const next = JSON.stringify(change.message);
      this.stmt.setBody.run(next, rid);
      if (change.type === "delete") {
        const conv = conversationKey(user, peer);
        this.stmt.addUnsent.run(conv, current.from, id);
        this.stmt.dropExpiring.run(conv, id);
      }
      const now = Date.now();
      const events = [
        this.appendChange(user, peer, change, next, rid, now),
        this.appendChange(peer, user, change, next, rid, now),
      ];
      return { message: change.message, peer, events };
    });
  }

  /** The conversation holding `id` among `user`'s, searched only where it can be (by its time). */
  private locate(user: string, id: string): { peer: string; rid: number; body: string } | null {
    const peers = this.stmt.candidates.all(user, idTime(id) - LOCATE_SLACK_MS) as string[];
    for (const peer of peers) {
      const row = this.stmt.message.get(conversationKey(user, peer), id) as Row | undefined;
      if (row !== undefined) return { peer, rid: Number(row.rid), body: String(row.body) };
    }
    return null;
  }

  /** One side's event of a change; an `edit` event is stored as a reference to the row. */
  private appendChange(
    owner: string,
    other: string,
    change: MessageChange,
    body: string,
    rid: number,
    now: number,
  ): UserEvent {
    const seq = this.x.nextSeq(owner);
    let event: StoredEvent;
    let json: string;
    let inserted: Database.RunResult;
    if (change.type === "edit") {
      event = { type: "edit", seq, message: change.message };
      json = `{"type":"edit","seq":${seq},"message":${body}}`;
      inserted = this.stmt.insertEvent.run(owner, seq, now, "edit", rid);
    } else {
      event =
        change.type === "delete"
          ? { type: "delete", seq, id: change.message.id, peer: other }
          : {
              type: "reaction",
              seq,
              id: change.message.id,
              peer: other,
              user: change.user,
              emoji: change.emoji,
              on: change.on,
            };
      json = JSON.stringify(event);
      inserted = this.stmt.insertEvent.run(owner, seq, now, json, null);
    }
    this.x.appended(owner, seq, inserted.lastInsertRowid);
    return { user: owner, event, json };
  }

  delivered(
    user: string,
    peer: string,
    upTo: string,
    notify: boolean,
  ): Promise<{ upTo: string | null; events: UserEvent[] }> {
    return this.x.enqueue(() => {
      const current = (this.stmt.delivered.get(user, peer) as string | undefined) ?? null;
      const last = this.stmt.lastFromPeerUpTo.get(conversationKey(user, peer), peer, upTo) as
        | string
        | undefined;
      if (last === undefined || (current !== null && last <= current)) return { upTo: current, events: [] };
      this.stmt.setDelivered.run(user, peer, last);
      if (!notify) return { upTo: last, events: [] };
      const seq = this.x.nextSeq(peer);
      const event: StoredEvent = { type: "delivered", seq, peer: user, upTo: last };
      const json = JSON.stringify(event);
      this.x.appended(
        peer,
        seq,
        this.stmt.insertEvent.run(peer, seq, Date.now(), json, null).lastInsertRowid,
      );
      return { upTo: last, events: [{ user: peer, event, json }] };
    });
  }

  markReadQuietly(reader: string, peer: string, upTo: string): Promise<ReadResult> {
    return this.x.enqueue(() => this.x.markRead(reader, peer, upTo, false));
  }

  receipts(user: string, peers: readonly string[]): Promise<PeerReceipts[]> {
    return this.x.read(() =>
      peers.map((peer) => ({
        readUpTo: (this.stmt.readMarker.get(peer, user) as string | null | undefined) ?? null,
        deliveredUpTo: (this.stmt.delivered.get(peer, user) as string | undefined) ?? null,
      })),
    );
  }

  settings(users: readonly string[]): Promise<Settings[]> {
    return this.x.read(() => users.map((user) => this.settingsNow(user)));
  }

  private settingsNow(user: string): Settings {
    const body = this.stmt.settings.get(user) as string | undefined;
    return body === undefined
      ? { ...DEFAULT_SETTINGS }
      : { ...DEFAULT_SETTINGS, ...(JSON.parse(body) as Partial<Settings>) };
  }

  updateSettings(user: string, patch: Partial<Settings>): Promise<Settings> {
    return this.x.enqueue(() => {
      const next = { ...this.settingsNow(user), ...patch };
      this.stmt.setSettings.run(user, JSON.stringify(next));
      return next;
    });
  }

  mute(user: string, peer: string, until: number | null): Promise<void> {
    return this.x.enqueue(() => {
      this.stmt.mute.run(user, peer, until);
    });
  }

  unmute(user: string, peer: string): Promise<void> {
    return this.x.enqueue(() => {
      this.stmt.unmute.run(user, peer);
    });
  }

  mutes(user: string): Promise<Map<string, number | null>> {
    return this.x.read(() => {
      const rows = this.stmt.mutes.all(user) as Row[];
      return new Map(rows.map((r) => [String(r.peer), r.until === null ? null : Number(r.until)]));
    });
  }
}
