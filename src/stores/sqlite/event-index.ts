import type Database from "better-sqlite3";

/** One user's log: `rids[i]` is the rid of the event with seq `first + i`, 0 where it was deleted. */
interface UserRids {
  first: number;
  rids: number[];
}

/**
 * Each user's event log as seq → rid, held in memory instead of an on-disk `(user, seq)` index.
 *
 * Why: a W1 commit holds ~900 sends touching nearly every user, and each user's newest index
 * entries sit on a leaf of their own, so the on-disk index dirtied one random 8 KiB page per user
 * per commit (written to the WAL, then again by the checkpoint) and cost a B-tree insert per event:
 * ~7 µs of the store's ~26 µs per message (bench/store-micro.ts). Without it an event is a rowid
 * append (the table's last pages only). One process owns the file (claimFile), so nothing else
 * writes events; the map is rebuilt from the table at start (a scan in rid order, bounded by
 * retention) and after a failed transaction. Seqs of one user rise with their rids (appends only).
 */
export class EventIndex {
  private readonly logs = new Map<string, UserRids>();
  private readonly scan: Database.Statement;

  constructor(db: Database.Database) {
    this.scan = db.prepare("SELECT rid, user, seq FROM events").raw();
    this.load();
  }

  /** Rebuilds the map from the table (start, and after a rolled-back transaction). */
  load(): void {
    this.logs.clear();
    for (const [rid, user, seq] of this.scan.iterate() as IterableIterator<[number, string, number]>) {
      this.add(user, seq, rid);
    }
  }

  add(user: string, seq: number, rid: number): void {
    const log = this.logs.get(user);
    if (log === undefined) {
      this.logs.set(user, { first: seq, rids: [rid] });
      return;
    }
    let at = seq - log.first;
    if (at < 0) {
      // Never on appends (seqs only rise); kept total so a reordered scan cannot corrupt the map.
      log.rids.unshift(...new Array<number>(-at).fill(0));
      log.first = seq;
      at = 0;
    }
    while (log.rids.length < at) log.rids.push(0);
    log.rids[at] = rid;
  }

  /** The highest seq the user's log holds (undefined: no event stored). */
  last(user: string): number | undefined {
    const log = this.logs.get(user);
    return log === undefined ? undefined : log.first + log.rids.length - 1;
  }

  /** The rids of the user's events after `since`, in seq order, at most `limit`. */
  after(user: string, since: number, limit: number): number[] {
    const log = this.logs.get(user);
    const out: number[] = [];
    if (log === undefined) return out;
    for (let i = Math.max(0, since + 1 - log.first); i < log.rids.length && out.length < limit; i++) {
      const rid = log.rids[i] as number;
      if (rid !== 0) out.push(rid);
    }
    return out;
  }

  /** Every rid the user's log holds. */
  all(user: string): number[] {
    return this.after(user, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
  }

  /** Drops the user's events with seq ≤ `upTo` from the map; returns their rids (to delete). */
  dropUpTo(user: string, upTo: number): number[] {
    const log = this.logs.get(user);
    if (log === undefined || upTo < log.first) return [];
    const removed = log.rids.splice(0, upTo - log.first + 1).filter((rid) => rid !== 0);
    log.first = upTo + 1;
    if (log.rids.length === 0) this.logs.delete(user);
    return removed;
  }

  /** Marks these rids of the user's log as deleted. */
  forget(user: string, rids: readonly number[]): void {
    const log = this.logs.get(user);
    if (log === undefined || rids.length === 0) return;
    const gone = new Set(rids);
    for (let i = 0; i < log.rids.length; i++) if (gone.has(log.rids[i] as number)) log.rids[i] = 0;
  }

  /** Forgets the user's whole log; returns its rids (to delete). */
  clear(user: string): number[] {
    const rids = this.all(user);
    this.logs.delete(user);
    return rids;
  }
}
