import type { Hub } from "./hub.js";
import { LIMITS } from "./limits.js";
import type { Sink } from "./ports/sink.js";
import type { Store } from "./ports/store.js";
import type { Cursor } from "./types.js";

/** Events replayed per store read while catching up. */
const PAGE = LIMITS.replayPage;

/** A resync that finds the store unreachable is tried again this often, this many times. */
const RESYNC_RETRY_MS = 250;
const RESYNC_RETRIES = 20;

/**
 * Where a new stream starts: after a whole cursor; after a seq alone (in the store's epoch); or,
 * with neither, from the log's head.
 */
export type ResumeFrom = Partial<Cursor>;

/**
 * One live event stream of one user over one connection: hello, then every stored event after
 * the cursor exactly once and in seq order, then live events, with no gap between the two.
 *
 * Live events arriving while the stream is catching up from the store are not buffered: they
 * only mark the stream dirty, and it reads the store again. Seqs are contiguous per user, so a
 * live event that skips one (a publication lost or reordered between processes) also sends the
 * stream back to the store. Memory per stream is therefore constant.
 */
export class EventStream {
  readonly user: string;
  readonly sink: Sink;
  lastSeq = 0;
  private syncing = true;
  private dirty = false;
  private started = false;
  closed = false;
  private readonly store: Store;
  private readonly hub: Hub;

  constructor(hub: Hub, store: Store, user: string, sink: Sink) {
    this.hub = hub;
    this.store = store;
    this.user = user;
    this.sink = sink;
  }

  /** Registers with the hub, sends hello, replays from the cursor, then goes live. */
  async start(cursor: ResumeFrom): Promise<void> {
    this.hub.attach(this);
    try {
      await this.hub.ready(this.user);
      const epoch = this.store.epoch;
      // Whether the read below may have missed something: then the store is read again.
      let more = false;
      if (cursor.seq === undefined) {
        const head = await this.store.head(this.user);
        this.lastSeq = head;
        this.hello(head);
      } else if (cursor.epoch !== undefined && cursor.epoch !== epoch) {
        const head = await this.store.head(this.user);
        this.resetTo(head);
      } else {
        this.lastSeq = cursor.seq;
        const page = await this.store.eventsSince(this.user, cursor.seq, PAGE);
        if (page.reset) {
          this.resetTo(page.head);
        } else {
          this.hello(page.head);
          await this.writeStored(page.events);
          more = page.events.length === PAGE;
        }
      }
      this.started = true;
      // The hub had this stream (and the broker its subscription) before the read: an event
      // committed after the read has marked it dirty. If none did, the read saw everything.
      if (more || this.dirty) await this.catchUp();
      else this.syncing = false;
    } catch (err) {
      this.hub.detach(this);
      throw err;
    }
  }

  private hello(seq: number): void {
    this.sink.write(JSON.stringify({ type: "hello", user: this.user, epoch: this.store.epoch, seq }), null);
  }

  private resetTo(head: number): void {
    if (!this.started) this.hello(head);
    this.lastSeq = head;
    this.sink.write(JSON.stringify({ type: "reset", seq: head, epoch: this.store.epoch }), head);
  }

  /** Writes a page read from the store, pausing whenever the connection's buffer is full. */
  private async writeStored(events: { seq: number }[]): Promise<void> {
    for (const event of events) {
      if (this.closed) return;
      if (event.seq <= this.lastSeq) continue;
      const room = this.sink.whenWritable?.();
      if (room) {
        await room;
        if (this.closed) return;
      }
      this.lastSeq = event.seq;
      this.sink.write(JSON.stringify(event), event.seq);
    }
  }

  /** Reads the store until nothing new arrived meanwhile, then goes live. */
  private async catchUp(): Promise<void> {
    this.syncing = true;
    do {
      this.dirty = false;
      const page = await this.store.eventsSince(this.user, this.lastSeq, PAGE);
      if (this.closed) return;
      if (page.reset) {
        this.resetTo(page.head);
      } else {
        await this.writeStored(page.events);
        if (page.events.length === PAGE) this.dirty = true;
      }
    } while (this.dirty && !this.closed);
    this.syncing = false;
  }

  /** A live event for this user (from the hub). */
  push(json: string, seq: number | null): void {
    if (this.closed) return;
    if (seq === null) {
      if (this.started) this.sink.write(json, null);
      return;
    }
    if (seq <= this.lastSeq) return;
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    if (seq !== this.lastSeq + 1) {
      this.resync();
      return;
    }
    this.lastSeq = seq;
    this.sink.write(json, seq);
  }

  resync(attempt = 0): void {
    if (this.closed || this.syncing) {
      this.dirty = true;
      return;
    }
    this.catchUp().catch(() => {
      // The broker's connection can come back before the store's (each reconnects on its own
      // schedule): try again shortly rather than drop a client that has lost nothing.
      this.syncing = false;
      if (this.closed) return;
      if (attempt >= RESYNC_RETRIES) {
        this.sink.close("store_unavailable");
        return;
      }
      setTimeout(() => this.resync(attempt + 1), RESYNC_RETRY_MS).unref();
    });
  }

  /** Ends the stream for good; the transport calls this when its connection closes. */
  stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.detach(this);
  }
}
