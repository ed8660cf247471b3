import { BitSet } from "./stats.js";

interface Entry {
  peer: string;
  /** Seqs of this user's sends that the server confirmed. */
  accepted: BitSet;
  /** Seqs received from the peer. */
  seen: BitSet;
  /** Highest seq and server id received from the peer, for the order checks. */
  lastSeq: number;
  lastId: string;
}

export type Receipt = "new" | "duplicate" | "stranger";

/**
 * The load generator's account of a paired workload: what each user's sends were confirmed as,
 * what each user received from its peer, and what went wrong. Loss is counted at the end: a
 * confirmed send its peer never received.
 *
 * Order: with `strictOrder` (one WebSocket carries a user's sends, so the server sees them in
 * send order) each receipt must be the next seq. Over HTTP, concurrent POSTs may be stored in any
 * order, so only the server's order is checked: ids (which sort in stored order) must increase.
 */
export class Ledger {
  private readonly entries = new Map<string, Entry>();
  private readonly strictOrder: boolean;
  accepted = 0;
  received = 0;
  duplicated = 0;
  outOfOrder = 0;
  readonly notes: string[] = [];

  constructor(strictOrder: boolean) {
    this.strictOrder = strictOrder;
  }

  pair(a: string, b: string): void {
    const entry = (peer: string): Entry => ({
      peer,
      accepted: new BitSet(),
      seen: new BitSet(),
      lastSeq: 0,
      lastId: "",
    });
    this.entries.set(a, entry(b));
    this.entries.set(b, entry(a));
  }

  accept(user: string, seq: number): void {
    const entry = this.entries.get(user);
    if (!entry) return;
    entry.accepted.add(seq);
    this.accepted++;
  }

  /** Records that `receiver` got `from`'s message `seq` (server id `id`, when the server has ids). */
  receive(receiver: string, from: string, seq: number, id: string | null): Receipt {
    const entry = this.entries.get(receiver);
    if (!entry || entry.peer !== from) {
      this.outOfOrder++;
      this.note(`${receiver} got a message from ${from}, not its peer`);
      return "stranger";
    }
    if (entry.seen.has(seq)) {
      this.duplicated++;
      this.note(`${receiver} got seq ${seq} from ${from} twice`);
      return "duplicate";
    }
    entry.seen.add(seq);
    this.received++;
    const late = this.strictOrder && seq !== entry.lastSeq + 1;
    const backwards = id !== null && id <= entry.lastId;
    if (late || backwards) {
      this.outOfOrder++;
      this.note(`${receiver} got seq ${seq} (id ${id}) from ${from} after seq ${entry.lastSeq}`);
    }
    if (seq > entry.lastSeq) entry.lastSeq = seq;
    if (id !== null && id > entry.lastId) entry.lastId = id;
    return "new";
  }

  /** A gap or repeat in a connection's event stream (its seq), as the client saw it. */
  streamAnomaly(detail: string): void {
    this.outOfOrder++;
    this.note(detail);
  }

  /** Confirmed sends that their peer has not received. */
  lost(): number {
    let lost = 0;
    for (const entry of this.entries.values()) {
      const peer = this.entries.get(entry.peer);
      if (peer) lost += entry.accepted.countMissingFrom(peer.seen);
    }
    return lost;
  }

  note(text: string): void {
    if (this.notes.length < 10) this.notes.push(text);
  }
}
