/**
 * The Redis key schema. Every key carries a hash tag, so on Redis Cluster all of one user's keys
 * share a slot, and all of one conversation's keys share another; no script ever needs two slots.
 *
 * user `u` (tag `{u:<u>}`):
 *   seq     string  head of the event log (INCR; never expires, so seqs never repeat)
 *   log     stream  the event log: entry id `<seq>-0`, fields e (event JSON) and t (append time,
 *                   ms); a `message` event is m ("<id> <peer>": a reference to the body, stored
 *                   once in the conversation's msg) and t (see append_message_ref in lua/lib.lua)
 *   convs   zset    peer -> updatedAt (ms) of the conversation's last message
 *   last    hash    no longer written (before the sixth session: peer -> body of the
 *                   conversation's last message; the list reads it from the conversation now);
 *                   an old one is ignored, and erased with the user or the conversation
 *   rd      hash    "<peer> <reader>" -> upTo of the newest `read` event in this log
 *   ap      zset    message id -> seq, recent messages applied to this log (cluster only: retries)
 *   blocks  set     users this user blocked (the listing; `blk` below is what sends check)
 *   pr      hash    presence: n:<node> -> open connections there; seen, polled -> times (ms)
 *   pairs   zset    peer -> since (ms) of the user's current pairs (SPEC 11)
 *   cmid    hash    SHA-1 of a clientMsgId -> "<peer> <message id>" of the messages this user sent with one
 *                   (SPEC 3: a clientMsgId is the sender's, whoever it went to); on a cluster
 *                   "<peer>" first, claimed before the conversation step
 *   ev      channel sharded pub/sub channel of the user's live events
 *   push    hash    endpoint -> Web Push subscription JSON (at most 10)
 * conversation of a and b, a < b (tag `{c:<a>|<b>}`):
 *   meta    hash    r:<user> -> that user's read marker (the last message id it has read)
 *   msg     hash    message id -> message body (JSON)
 *   ids     zset    every message id, score 0 (lexicographic = commit order)
 *   from:<user> zset the ids that user sent (unread counts and pages)
 *   cmid    hash    "<sender> <clientMsgId>" -> message id
 *   blk     set     which of the two blocked the other
 *   pair    hash    the pair (SPEC 11): state m|u, since, screen, pending (an unmatch under way)
 *   meta's field `ttl`: the conversation's own message ttl in seconds (SPEC 15; absent: none)
 *   exp     zset    ids of its messages that expire and are not erased yet -> expiresAt (ms)
 * the outbox (tag `{ob}`: one slot, see lua/outbox-steps.lua):
 *   {ob}:due, {ob}:e, {ob}:failed   the entries;  {ob}:m:<key>  string  a mark (expires)
 * global:
 *   epoch   string  the data set's epoch (SET NX on first use)
 *   bans    hash    user -> JSON {reason, until} of the bans (SPEC 12)
 *   {reports}:r, :open, :resolved   the reports (SPEC 12; see reports.ts)
 *   {exp}:due     zset  "<id> <from> <to>" -> expiresAt (ms): messages the sweeper erases (SPEC 15)
 *   {exp}:lease   string  the id of the process sweeping now (SET NX PX, renewed while it sweeps)
 *   {n<k>}:count  string  messages stored, in COUNT_SHARDS counters spread over the slots
 *   nodes         hash    node id -> JSON {id, host, pid, startedAt} of the duet processes
 *   node:<id>     string  a live duet process, expires unless its heartbeat renews it
 */

export const COUNT_SHARDS = 16;

/** Key sets kept per user and per conversation, at most; past it the cache starts again. */
const CACHE_LIMIT = 10_000;

export class RedisKeys {
  readonly prefix: string;
  // Every send needs both users' and the conversation's keys: made once, not 24 strings a send.
  private readonly users = new Map<string, UserKeys>();
  private readonly conversations = new Map<string, ConversationKeys>();

  constructor(prefix = "duet:") {
    if (/[{}]/.test(prefix))
      throw new Error("A Redis key prefix must not contain { or }: they are hash tags.");
    this.prefix = prefix;
  }

  user(user: string): UserKeys {
    let keys = this.users.get(user);
    if (keys === undefined) {
      if (this.users.size >= CACHE_LIMIT) this.users.clear();
      keys = this.makeUser(user);
      this.users.set(user, keys);
    }
    return keys;
  }

  private makeUser(user: string): UserKeys {
    const base = `${this.prefix}{u:${user}}:`;
    return {
      seq: `${base}seq`,
      log: `${base}log`,
      convs: `${base}convs`,
      last: `${base}last`,
      rd: `${base}rd`,
      ap: `${base}ap`,
      blocks: `${base}blocks`,
      presence: `${base}pr`,
      pairs: `${base}pairs`,
      cmid: `${base}cmid`,
      channel: `${base}ev`,
      push: `${base}push`,
    };
  }

  conversation(a: string, b: string): ConversationKeys {
    const lo = a < b ? a : b;
    const hi = a < b ? b : a;
    const tag = `${lo}|${hi}`;
    let keys = this.conversations.get(tag);
    if (keys === undefined) {
      if (this.conversations.size >= CACHE_LIMIT) this.conversations.clear();
      const base = `${this.prefix}{c:${tag}}:`;
      const fromLo = `${base}from:${lo}`;
      const fromHi = `${base}from:${hi}`;
      keys = {
        meta: `${base}meta`,
        msg: `${base}msg`,
        ids: `${base}ids`,
        from: (user: string) => (user === lo ? fromLo : user === hi ? fromHi : `${base}from:${user}`),
        cmid: `${base}cmid`,
        blk: `${base}blk`,
        pair: `${base}pair`,
        exp: `${base}exp`,
      };
      this.conversations.set(tag, keys);
    }
    return keys;
  }

  get epoch(): string {
    return `${this.prefix}epoch`;
  }

  /** SPEC 15: the global expiry index (one slot of its own; see expiry.ts). */
  get expiryIndex(): string {
    return `${this.prefix}{exp}:due`;
  }

  get expiryLease(): string {
    return `${this.prefix}{exp}:lease`;
  }

  count(shard: number): string {
    return `${this.prefix}{n${shard}}:count`;
  }

  /** The outbox's keys: one hash tag, so one slot on a cluster. */
  get outbox(): OutboxKeys {
    const base = `${this.prefix}{ob}:`;
    return { due: `${base}due`, entries: `${base}e`, failed: `${base}failed`, mark: `${base}m:` };
  }

  get bans(): string {
    return `${this.prefix}bans`;
  }

  get nodes(): string {
    return `${this.prefix}nodes`;
  }

  node(id: string): string {
    return `${this.prefix}node:${id}`;
  }

  /** The user a channel belongs to, or null for a channel that is not a duet user channel. */
  channelUser(channel: string): string | null {
    const head = `${this.prefix}{u:`;
    if (!channel.startsWith(head) || !channel.endsWith("}:ev")) return null;
    return channel.slice(head.length, -4);
  }
}

export interface UserKeys {
  seq: string;
  log: string;
  convs: string;
  last: string;
  rd: string;
  ap: string;
  blocks: string;
  presence: string;
  pairs: string;
  /** The sender's clientMsgIds (SPEC 3), see the schema above. */
  cmid: string;
  channel: string;
  /** hash endpoint -> Web Push subscription JSON (SPEC 14) */
  push: string;
}

export interface ConversationKeys {
  meta: string;
  msg: string;
  ids: string;
  from: (user: string) => string;
  cmid: string;
  blk: string;
  pair: string;
  /** SPEC 15: expiring ids -> expiresAt. */
  exp: string;
}

export interface OutboxKeys {
  due: string;
  entries: string;
  failed: string;
  /** Prefix of the marks' keys. */
  mark: string;
}
