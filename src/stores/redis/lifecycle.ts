/**
 * SPEC 13 on Redis and Redis Cluster (see LifecycleStore in core/ports/lifecycle.ts for the
 * contract). A message change is read, decided in TypeScript by the shared rules, then written by
 * a compare-and-set script that fails if the body changed meanwhile (another process's edit,
 * reaction or unsend): then it reads again and retries, so every change is applied to the state
 * it was decided on. On standalone Redis the set and both sides' events are one script
 * (lifecycle-change.lua): changes of one message are totally ordered, events included. On a
 * cluster the steps run in their slots one after the other.
 *
 * Keys besides keys.ts's (same hash tags): user `set` hash (settings changed: name -> "1"/"0"),
 * user `mute` hash (peer -> until ms, "0" for no end); conversation `meta` field `d:<user>`
 * (the user's delivery marker for the peer's messages).
 *
 * Nothing here runs on a plain send.
 */
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";
import { DuetError } from "../../core/errors.js";
import { expiredView } from "../../core/expiry.js";
import { idTime, LOCATE_SLACK_MS, type MessageChange } from "../../core/lifecycle-rules.js";
import {
  DEFAULT_SETTINGS,
  type LifecycleStore,
  type PeerReceipts,
  type UpdatedMessage,
} from "../../core/ports/lifecycle.js";
import type { ReadResult, UserEvent } from "../../core/ports/store.js";
import type { Message, ReadEvent, Settings, StoredEvent } from "../../core/types.js";
import type { RedisContext } from "./context.js";
import type { RedisStore } from "./redis-store.js";

const SCRIPTS = {
  duetLcChange: { files: ["lib", "lifecycle-steps", "lifecycle-change"], keys: 8 },
  duetLcCas: { files: ["lib", "lifecycle-steps", "lifecycle-cas"], keys: 2 },
  duetLcApply: { files: ["lib", "lifecycle-steps", "lifecycle-apply"], keys: 3 },
  duetLcDelivered: { files: ["lib", "lifecycle-steps", "lifecycle-delivered"], keys: 4 },
  duetLcMoveDelivered: { files: ["lib", "lifecycle-steps", "lifecycle-move-delivered"], keys: 2 },
  duetLcApplyDelivered: { files: ["lib", "lifecycle-steps", "lifecycle-apply-delivered"], keys: 2 },
  duetLcQuietRead: { files: ["lib", "read-steps", "lifecycle-quiet-read"], keys: 5 },
  duetLcMoveMarker: { files: ["lib", "read-steps", "move-marker"], keys: 2 },
  duetLcApplyRead: { files: ["lib", "read-steps", "apply-read"], keys: 3 },
} as const;
type LcScript = keyof typeof SCRIPTS;
type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** How often a compare-and-set is retried when other writers keep changing the message. */
const MAX_ATTEMPTS = 20;

function source(file: string): string {
  return readFileSync(new URL(`./lua/${file}.lua`, import.meta.url), "utf8");
}

const SETTING_NAMES = Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[];

export class RedisLifecycle implements LifecycleStore {
  private readonly x: RedisContext & { call<T>(request: () => Promise<T>): Promise<T> };

  constructor(store: RedisStore) {
    const ctx = store.internals();
    this.x = Object.assign(Object.create(ctx) as RedisContext, {
      call: <T>(request: () => Promise<T>) => ctx.run.call(request),
    });
    for (const [name, def] of Object.entries(SCRIPTS)) {
      this.x.client.defineCommand(name, { lua: def.files.map(source).join("\n"), numberOfKeys: def.keys });
    }
  }

  private script(
    name: LcScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown[]> {
    const call = (this.x.client as unknown as Record<LcScript, ScriptCall>)[name];
    return this.x.call(() => call.apply(this.x.client, [...keys, ...args]) as Promise<unknown[]>);
  }

  /** A user key of ours beside keys.ts's: same hash tag, so the same slot. */
  private userKey(user: string, name: string): string {
    const seq = this.x.keys.user(user).seq; // "<prefix>{u:<user>}:seq"
    return `${seq.slice(0, -3)}${name}`;
  }

  /** Message `id` among `user`'s conversations: active since its time, each asked in parallel. */
  private async find(user: string, id: string): Promise<{ peer: string; body: string } | null> {
    const convs = this.x.keys.user(user).convs;
    const since = String(idTime(id) - LOCATE_SLACK_MS);
    const peers = await this.x.call(() => this.x.client.zrangebyscore(convs, since, "+inf"));
    const bodies = await Promise.all(
      peers.map((peer) =>
        this.x.call(() => this.x.client.hget(this.x.keys.conversation(user, peer).msg, id)),
      ),
    );
    const i = bodies.findIndex((b) => b !== null);
    const peer = peers[i];
    const body = bodies[i];
    return peer === undefined || body === undefined || body === null ? null : { peer, body };
  }

  async updateMessage(
    user: string,
    id: string,
    rule: (current: Message) => MessageChange | null,
  ): Promise<UpdatedMessage | null> {
    const found = await this.find(user, id);
    if (found === null) return null;
    const { peer } = found;
    let body = found.body;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // An expired message (SPEC 15) is its tombstone to every rule, swept or not.
      const current = expiredView(JSON.parse(body) as Message, Date.now());
      const change = rule(current);
      if (change === null) return { message: current, peer, events: [] };
      const next = JSON.stringify(change.message);
      const r = await this.write(user, peer, current, change, body, next);
      if (r.done) return { message: change.message, peer, events: r.events };
      if (r.current === null) return null;
      body = r.current;
    }
    throw new DuetError("conflict", "The message is changing too fast; retry.");
  }

  /** Each side's event JSON as `prefix + seq + suffix` (the order JSON.stringify gives). */
  private eventParts(change: MessageChange, other: string, body: string): [string, string] {
    const id = change.message.id;
    if (change.type === "edit") return ['{"type":"edit","seq":', `,"message":${body}}`];
    if (change.type === "delete")
      return ['{"type":"delete","seq":', `,${JSON.stringify({ id, peer: other }).slice(1)}`];
    const rest = { id, peer: other, user: change.user, emoji: change.emoji, on: change.on };
    return ['{"type":"reaction","seq":', `,${JSON.stringify(rest).slice(1)}`];
  }

  private event(change: MessageChange, seq: number, other: string): StoredEvent {
    const id = change.message.id;
    if (change.type === "edit") return { type: "edit", seq, message: change.message };
    if (change.type === "delete") return { type: "delete", seq, id, peer: other };
    return { type: "reaction", seq, id, peer: other, user: change.user, emoji: change.emoji, on: change.on };
  }

  private async write(
    user: string,
    peer: string,
    current: Message,
    change: MessageChange,
    expected: string,
    next: string,
  ): Promise<{ done: true; events: UserEvent[] } | { done: false; current: string | null }> {
    const conv = this.x.keys.conversation(user, peer);
    const a = this.x.keys.user(user);
    const b = this.x.keys.user(peer);
    const erase = change.type === "delete" ? "1" : "0";
    // An edit's event is logged as a reference to the message (the body stays in one place).
    const asRef = change.type === "edit" ? "1" : "0";
    const [pa, sa] = this.eventParts(change, peer, next);
    const [pb, sb] = this.eventParts(change, user, next);
    const id = current.id;
    let s1: number;
    let s2: number;
    if (!this.x.cluster) {
      const r = await this.script(
        "duetLcChange",
        [conv.msg, conv.from(current.from), a.seq, a.log, a.last, b.seq, b.log, b.last],
        [id, expected, next, erase, pa, sa, pb, sb, peer, user, this.x.maxEvents, this.x.maxAgeMs, asRef],
      );
      if (r[0] !== "ok") return { done: false, current: typeof r[1] === "string" ? r[1] : null };
      s1 = Number(r[1]);
      s2 = Number(r[2]);
    } else {
      const r = await this.script(
        "duetLcCas",
        [conv.msg, conv.from(current.from)],
        [id, expected, next, erase],
      );
      if (r[0] !== "ok") return { done: false, current: typeof r[1] === "string" ? r[1] : null };
      const apply = (
        keys: { seq: string; log: string; last: string },
        other: string,
        prefix: string,
        suffix: string,
      ) =>
        this.script(
          "duetLcApply",
          [keys.seq, keys.log, keys.last],
          [other, id, next, erase, prefix, suffix, this.x.maxEvents, this.x.maxAgeMs, asRef],
        );
      const [r1, r2] = await Promise.all([apply(a, peer, pa, sa), apply(b, user, pb, sb)]);
      s1 = Number(r1);
      s2 = Number(r2);
    }
    return {
      done: true,
      events: [
        { user, event: this.event(change, s1, peer), json: `${pa}${s1}${sa}` },
        { user: peer, event: this.event(change, s2, user), json: `${pb}${s2}${sb}` },
      ],
    };
  }

  async delivered(
    user: string,
    peer: string,
    upTo: string,
    notify: boolean,
  ): Promise<{ upTo: string | null; events: UserEvent[] }> {
    const conv = this.x.keys.conversation(user, peer);
    const p = this.x.keys.user(peer);
    let marker: string | null;
    let seq = 0;
    if (!this.x.cluster) {
      const r = await this.script(
        "duetLcDelivered",
        [conv.meta, conv.from(peer), p.seq, p.log],
        [user, upTo, notify ? "1" : "0", this.x.maxEvents, this.x.maxAgeMs],
      );
      marker = String(r[0]) || null;
      seq = Number(r[1]);
    } else {
      const r = await this.script("duetLcMoveDelivered", [conv.meta, conv.from(peer)], [user, upTo]);
      marker = String(r[0]) || null;
      if (Number(r[1]) === 1 && notify && marker !== null)
        seq = Number(
          await this.script(
            "duetLcApplyDelivered",
            [p.seq, p.log],
            [user, marker, this.x.maxEvents, this.x.maxAgeMs],
          ),
        );
    }
    if (seq === 0 || marker === null) return { upTo: marker, events: [] };
    const event: StoredEvent = { type: "delivered", seq, peer: user, upTo: marker };
    return { upTo: marker, events: [{ user: peer, event, json: JSON.stringify(event) }] };
  }

  async markReadQuietly(reader: string, peer: string, upTo: string): Promise<ReadResult> {
    const conv = this.x.keys.conversation(reader, peer);
    const u = this.x.keys.user(reader);
    let marker: string | null;
    let seq = 0;
    if (!this.x.cluster) {
      const r = await this.script(
        "duetLcQuietRead",
        [conv.meta, conv.from(peer), u.seq, u.log, u.rd],
        [reader, peer, upTo, this.x.maxEvents, this.x.maxAgeMs],
      );
      marker = String(r[0]) || null;
      seq = Number(r[1]);
    } else {
      const r = await this.script("duetLcMoveMarker", [conv.meta, conv.from(peer)], [reader, upTo]);
      marker = String(r[0]) || null;
      if (marker !== null)
        seq = Number(
          await this.script(
            "duetLcApplyRead",
            [u.seq, u.log, u.rd],
            [peer, reader, marker, this.x.maxEvents, this.x.maxAgeMs],
          ),
        );
    }
    if (seq === 0 || marker === null) return { upTo: marker, events: [] };
    const event: ReadEvent = { type: "read", seq, peer, reader, upTo: marker };
    return { upTo: marker, events: [{ user: reader, event }] };
  }

  receipts(user: string, peers: readonly string[]): Promise<PeerReceipts[]> {
    return Promise.all(
      peers.map(async (peer) => {
        const meta = this.x.keys.conversation(user, peer).meta;
        const [read, delivered] = await this.x.call(() =>
          this.x.client.hmget(meta, `r:${peer}`, `d:${peer}`),
        );
        return { readUpTo: read ?? null, deliveredUpTo: delivered ?? null };
      }),
    );
  }

  settings(users: readonly string[]): Promise<Settings[]> {
    return Promise.all(
      users.map(async (user) => {
        const stored = await this.x.call(() => this.x.client.hgetall(this.userKey(user, "set")));
        const settings: Settings = { ...DEFAULT_SETTINGS };
        for (const name of SETTING_NAMES)
          if (stored[name] !== undefined) settings[name] = stored[name] === "1";
        return settings;
      }),
    );
  }

  async updateSettings(user: string, patch: Partial<Settings>): Promise<Settings> {
    const fields: string[] = [];
    for (const name of SETTING_NAMES) {
      const value = patch[name];
      if (value !== undefined) fields.push(name, value ? "1" : "0");
    }
    if (fields.length > 0) await this.x.call(() => this.x.client.hset(this.userKey(user, "set"), ...fields));
    return (await this.settings([user]))[0] ?? { ...DEFAULT_SETTINGS };
  }

  async mute(user: string, peer: string, until: number | null): Promise<void> {
    await this.x.call(() => this.x.client.hset(this.userKey(user, "mute"), peer, String(until ?? 0)));
  }

  async unmute(user: string, peer: string): Promise<void> {
    await this.x.call(() => this.x.client.hdel(this.userKey(user, "mute"), peer));
  }

  async mutes(user: string): Promise<Map<string, number | null>> {
    const stored = await this.x.call(() => (this.x.client as Redis).hgetall(this.userKey(user, "mute")));
    return new Map(
      Object.entries(stored).map(([peer, until]) => [peer, until === "0" ? null : Number(until)]),
    );
  }
}
