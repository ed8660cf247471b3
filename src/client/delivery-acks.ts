import type { MessageEvent } from "../core/types.js";
import type { TokenSource } from "./http.js";

type Timer = ReturnType<typeof setTimeout>;

function ignoreError(): void {}

/** A JWT's `sub` (read, not verified: only to know which messages are to this user). */
function subjectOf(token: string): string | null {
  try {
    const part = token.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === "string" ? sub : null;
  } catch {
    return null;
  }
}

/**
 * Delivery acknowledgements: a message from a peer reached this device. Sent by themselves,
 * batched, at most once a second per conversation (the newest id covers every earlier one).
 */
export class DeliveryAcks {
  private readonly tokens: TokenSource;
  /** The user the stream's hello named, if any. */
  private readonly helloUser: () => string | null;
  /** Sends one acknowledgement (best effort). */
  private readonly send: (peer: string, upTo: string) => Promise<unknown>;
  /** Who this is on polling transports (no hello): the token's `sub`. */
  private tokenUser: string | null = null;
  /** Per peer: the newest message id to acknowledge, and whether a send of it is scheduled. */
  private readonly byPeer = new Map<string, { upTo: string; timer: Timer | undefined; lastAt: number }>();
  private closed = false;

  constructor(
    tokens: TokenSource,
    helloUser: () => string | null,
    send: (peer: string, upTo: string) => Promise<unknown>,
  ) {
    this.tokens = tokens;
    this.helloUser = helloUser;
    this.send = send;
  }

  queue(event: MessageEvent): void {
    const m = event.message;
    const me = this.helloUser() ?? this.tokenUser;
    if (me === null) {
      void this.tokens.get().then((token) => {
        const sub = subjectOf(token);
        if (sub === null || this.helloUser() !== null || this.tokenUser !== null) return;
        this.tokenUser = sub;
        this.queue(event);
      }, ignoreError);
      return;
    }
    if (m.to !== me || m.from === me || m.kind === "system") return;
    const peer = m.from;
    let ack = this.byPeer.get(peer);
    if (ack === undefined) {
      ack = { upTo: m.id, timer: undefined, lastAt: 0 };
      this.byPeer.set(peer, ack);
    } else if (m.id > ack.upTo) ack.upTo = m.id;
    if (ack.timer !== undefined) return;
    const entry = ack;
    const wait = Math.max(0, entry.lastAt + 1000 - Date.now());
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.lastAt = Date.now();
      if (this.closed) return;
      void this.send(peer, entry.upTo).catch(() => {});
    }, wait);
  }

  close(): void {
    this.closed = true;
    for (const ack of this.byPeer.values()) clearTimeout(ack.timer);
  }
}
