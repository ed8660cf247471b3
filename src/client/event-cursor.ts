import type { Cursor, DuetEvent, MessageEvent } from "../core/types.js";
import type { Emitter } from "./emitter.js";
import type { ClientEvents } from "./events.js";

/**
 * The resume cursor: where this client stands in the user's event log. It turns the server's
 * at-least-once delivery into exactly-once (an event at or below the cursor was seen already)
 * and tells the app when it must reload (`reset`).
 */
export class EventCursor {
  private position: Cursor | null;
  /** The reset this client applied on its own, until the stream moves past it. */
  private resetAt: Cursor | null = null;
  private readonly emitter: Emitter<ClientEvents>;
  /** Called after a new message was emitted (for delivery acknowledgements). */
  private readonly onMessage: (event: MessageEvent) => void;

  constructor(
    start: Cursor | undefined,
    emitter: Emitter<ClientEvents>,
    onMessage: (event: MessageEvent) => void,
  ) {
    this.position = start ? { ...start } : null;
    this.emitter = emitter;
    this.onMessage = onMessage;
  }

  /** The live cursor (transports read it when they open or poll). */
  get current(): Cursor | null {
    return this.position;
  }

  /** A copy, for the app to save. */
  snapshot(): Cursor | null {
    return this.position === null ? null : { ...this.position };
  }

  /**
   * Where the server's log stands: a stream's hello, or a poll answer's cursor (`poll`: the
   * answer's events, already applied, end at `seq`).
   */
  head(seq: number, epoch: string, poll = false): void {
    const cursor = this.position;
    if (cursor === null) {
      this.position = { seq, epoch };
      this.emitter.emit("reset", { type: "reset", reason: "initial", seq, epoch });
    } else if (epoch === cursor.epoch && seq < cursor.seq) {
      // The server is behind our cursor (its log was rolled back): what it sends next would
      // look like duplicates. Start over from its head. (duet follows with a reset event of its
      // own; `resetAt` keeps the app from reloading twice.)
      this.position = { seq, epoch };
      this.resetAt = { seq, epoch };
      this.emitter.emit("reset", { type: "reset", reason: "reset", seq, epoch });
    } else if (poll && epoch === cursor.epoch) {
      cursor.seq = seq;
    }
  }

  /** An event from the transport: emitted to the app unless it was seen already. */
  accept(event: DuetEvent): void {
    switch (event.type) {
      case "typing":
        this.emitter.emit("typing", event);
        return;
      case "reset":
        if (this.resetAt?.seq === event.seq && this.resetAt.epoch === event.epoch) {
          this.resetAt = null; // the same reset we already applied
          return;
        }
        this.resetAt = null;
        this.position = { seq: event.seq, epoch: event.epoch };
        this.emitter.emit("reset", { type: "reset", reason: "reset", seq: event.seq, epoch: event.epoch });
        return;
      case "message":
      case "read":
      case "pair":
      case "edit":
      case "delete":
      case "reaction":
      case "delivered":
      case "ttl": {
        const cursor = this.position;
        if (cursor === null || typeof event.seq !== "number") return;
        // Seen already: at-least-once becomes exactly-once. A gap in seqs is not a loss (an
        // unmatch erases its conversation's events from the log): no reload for it.
        if (event.seq <= cursor.seq) return;
        this.resetAt = null;
        cursor.seq = event.seq;
        if (event.type === "message") {
          this.emitter.emit("message", event);
          this.onMessage(event);
        } else if (event.type === "read") this.emitter.emit("read", event);
        else if (event.type === "edit") this.emitter.emit("edit", event);
        else if (event.type === "delete") this.emitter.emit("delete", event);
        else if (event.type === "reaction") this.emitter.emit("reaction", event);
        else if (event.type === "delivered") this.emitter.emit("delivered", event);
        else if (event.type === "ttl") this.emitter.emit("ttl", event);
        else this.emitter.emit("pair", event);
        return;
      }
      default:
        return; // hello repeats, pings, and types this SDK version does not know
    }
  }
}
