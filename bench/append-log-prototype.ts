/**
 * PROTOTYPE, NOT A STORE: the "one append per commit" write path docs/PERFORMANCE.md names as
 * what the SQLite store would need to cost ~1-2 µs per message, so that claim rests on a figure
 * (`node --import tsx bench/store-micro.ts --prototype`). Each batch (the sends queued in one
 * event-loop turn) becomes ONE row of an append-only `log` table holding the batch's messages and
 * both users' seqs; the per-user (seq -> place) and per-conversation (message -> place) indexes
 * live in memory as arrays. It does what a send must do before its answer: the id and time, the
 * message JSON, both users' next seqs, the two events' JSON for delivery, a durable commit (WAL,
 * synchronous=NORMAL, 8 KiB pages, as the store), one promise per send settled after the commit.
 * It leaves out what a real store also needs, so its figure is a floor, not a forecast: no block
 * or pair check, no conversation summaries, no clientMsgId dedup, no reads (history, resume),
 * no retention, no rebuild of the indexes at start, no lifecycle edits, no derived tables.
 */
import Database from "better-sqlite3";
import { MonotonicUlid } from "../src/core/ids.js";
import type { SendResult, UserEvent } from "../src/core/ports/store.js";
import type { Message, SendInput } from "../src/core/types.js";

interface Pending {
  resolve: (value: SendResult) => void;
  reject: (err: unknown) => void;
  result: SendResult;
}

/** Where an entry is: the log row (commit) times 2^16, plus its position in the row. */
const place = (row: number, at: number) => row * 65_536 + at;

export class AppendLogPrototype {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly ids = new MonotonicUlid();
  /** Per user: the place of each event, index = seq - 1. */
  private readonly logs = new Map<string, number[]>();
  /** Per conversation: the place of each message, in id order. */
  private readonly convs = new Map<string, number[]>();
  private parts: string[] = [];
  private pending: Pending[] = [];
  private nextRow = 1;
  private scheduled = false;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma("page_size = 8192");
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS log (rid INTEGER PRIMARY KEY, ts INTEGER NOT NULL, body TEXT NOT NULL)",
    );
    this.insert = this.db.prepare("INSERT INTO log (rid, ts, body) VALUES (?, ?, ?)");
  }

  send(input: SendInput): Promise<SendResult> {
    return new Promise((resolve, reject) => {
      const ts = Date.now();
      const message: Message = {
        id: this.ids.next(ts),
        from: input.from,
        to: input.to,
        ts,
        kind: input.kind,
        text: input.text,
        image: input.image,
        links: input.links,
        clientMsgId: input.clientMsgId,
      };
      const body = JSON.stringify(message);
      const at = place(this.nextRow, this.parts.length);
      const fromSeq = this.appendTo(input.from, at);
      const toSeq = this.appendTo(input.to, at);
      const conv = input.from < input.to ? `${input.from} ${input.to}` : `${input.to} ${input.from}`;
      let messages = this.convs.get(conv);
      if (messages === undefined) {
        messages = [];
        this.convs.set(conv, messages);
      }
      messages.push(at);
      this.parts.push(`[${fromSeq},${toSeq},${body}]`);
      const events: UserEvent[] = [
        this.event(input.from, fromSeq, message, body),
        this.event(input.to, toSeq, message, body),
      ];
      this.pending.push({ resolve, reject, result: { message, duplicate: false, events, json: body } });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.commit());
      }
    });
  }

  private appendTo(user: string, at: number): number {
    let log = this.logs.get(user);
    if (log === undefined) {
      log = [];
      this.logs.set(user, log);
    }
    log.push(at);
    return log.length;
  }

  private event(user: string, seq: number, message: Message, body: string): UserEvent {
    return {
      user,
      event: { type: "message", seq, message },
      json: `{"type":"message","seq":${seq},"message":${body}}`,
    };
  }

  /** The batch as one row, one transaction: a sequential append, whatever users it touches. */
  private commit(): void {
    this.scheduled = false;
    const pending = this.pending;
    const parts = this.parts;
    this.pending = [];
    this.parts = [];
    try {
      this.db.transaction(() => this.insert.run(this.nextRow, Date.now(), `[${parts.join(",")}]`))();
      this.nextRow++;
    } catch (err) {
      for (const p of pending) p.reject(err);
      return;
    }
    for (const p of pending) p.resolve(p.result);
  }

  close(): void {
    this.db.close();
  }
}
