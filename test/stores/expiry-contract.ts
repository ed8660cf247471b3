/**
 * SPEC 15's disappearing messages on a store (src/core/ports/expiry.ts and the send and read
 * paths of Store), run unchanged against every store: each store's test file calls
 * runExpiryContract with a factory taking the server-wide default ttl.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_LIMITS, editRule, unsendRule } from "../../src/core/lifecycle-rules.js";
import type { ExpiryStore } from "../../src/core/ports/expiry.js";
import type { Store } from "../../src/core/ports/store.js";
import type { Message, SendInput } from "../../src/core/types.js";
import { expiryOf } from "../../src/stores/expiry.js";
import { lifecycleOf } from "../../src/stores/lifecycle.js";
import { at, sleep } from "../helpers/kit.js";

export interface ExpiryContractOptions {
  /** A fresh, empty store; `messageTtlS` is the server-wide default ttl (absent: none). */
  makeStore(opts: { messageTtlS?: number }): Promise<Store>;
  /** The bytes the store holds for message `id` of a and b (its stored body), or null when gone. */
  rawBody(store: Store, a: string, b: string, id: string): Promise<string | null>;
}

let counter = 0;
function users<const Names extends readonly string[]>(...names: Names): { [K in keyof Names]: string } {
  counter++;
  return names.map((n) => `${n}X${counter}`) as { [K in keyof Names]: string };
}

function text(from: string, to: string, body: string, clientMsgId: string | null = null): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId };
}

/** Waits until `at` (ms) has passed, by the clock of this process and of a Redis on this machine. */
async function until(at: number): Promise<void> {
  const wait = at - Date.now() + 30;
  if (wait > 0) await sleep(wait);
}

export function runExpiryContract(name: string, options: ExpiryContractOptions): void {
  describe(`expiry contract (send and read paths): ${name}`, () => {
    let plain: Store;
    let expiring: Store;
    before(async () => {
      plain = await options.makeStore({});
      expiring = await options.makeStore({ messageTtlS: 1 });
    });
    after(async () => {
      await plain.close();
      await expiring.close();
    });

    it("a plain message carries no expiresAt, and its stored bytes are exactly its JSON", async () => {
      const [a, b] = users("alice", "bob");
      const sent = await plain.send(text(a, b, "plain"));
      assert.equal("expiresAt" in sent.message, false);
      const raw = await options.rawBody(plain, a, b, sent.message.id);
      assert.equal(raw, JSON.stringify(sent.message));
      assert.equal(raw?.includes("expiresAt"), false);
      for (const e of sent.events) assert.equal(e.json?.includes("expiresAt") ?? false, false);
    });

    it("with the server default, a message carries expiresAt = ts + ttl, last, in its body and events", async () => {
      const [a, b] = users("alice", "bob");
      const sent = await expiring.send(text(a, b, "soon gone"));
      assert.equal(sent.message.expiresAt, sent.message.ts + 1000);
      const raw = await options.rawBody(expiring, a, b, sent.message.id);
      assert.equal(raw, JSON.stringify(sent.message));
      assert.ok(raw?.endsWith(`,"expiresAt":${sent.message.ts + 1000}}`));
      for (const e of sent.events) if (e.json !== undefined) assert.equal(e.json, JSON.stringify(e.event));
      const page = await expiring.history(a, b, { limit: 10 });
      assert.deepEqual(page.messages, [sent.message]);
    });

    it("an expired message is never returned after expiresAt, even before any sweep", async () => {
      const [a, b] = users("alice", "bob");
      const first = await expiring.send(text(a, b, "secret one"));
      const second = await expiring.send(text(a, b, "secret two"));
      assert.equal((await expiring.conversations(b, 10))[0]?.unread, 2);
      assert.equal((await expiring.readUnread(b, a, 10, false)).messages.length, 2);
      await until(at([second.message], 0).expiresAt ?? 0);
      const tombstone = (m: Message) => ({
        id: m.id,
        from: m.from,
        to: m.to,
        ts: m.ts,
        kind: "deleted",
        deletedAt: m.expiresAt,
      });
      // History: tombstones in their places, no text.
      const page = await expiring.history(b, a, { limit: 10 });
      assert.deepEqual(page.messages, [tombstone(first.message), tombstone(second.message)]);
      // Conversation list: the last message is a tombstone, nothing unread.
      const [summary] = await expiring.conversations(b, 10);
      assert.equal(summary?.unread, 0);
      assert.deepEqual(summary?.lastMessage, tombstone(second.message));
      const [mine] = await expiring.conversations(a, 10);
      assert.deepEqual(mine?.lastMessage, tombstone(second.message));
      // Unread: none.
      const unread = await expiring.readUnread(b, a, 10, true);
      assert.deepEqual(unread.messages, []);
      // Resume replay: both message events replay as the tombstones, without the text.
      for (const user of [a, b]) {
        const page = await expiring.eventsSince(user, 0, 10);
        const json = JSON.stringify(page.events);
        assert.equal(json.includes("secret"), false, json);
        assert.deepEqual(
          page.events.flatMap((e) => (e.type === "message" ? [e.message] : [])),
          [tombstone(first.message), tombstone(second.message)],
        );
      }
      // A clientMsgId repeat does not hand the text back either.
      const [c, d] = users("carol", "dave");
      const kept = await expiring.send(text(c, d, "retry me", "cm-1"));
      await until(kept.message.expiresAt ?? 0);
      const repeat = await expiring.send(text(c, d, "retry me", "cm-1"));
      assert.equal(repeat.duplicate, true);
      assert.equal(repeat.message.kind, "deleted");
      assert.equal(repeat.message.text, undefined);
    });

    it("unread counts stay right while messages expire one after another", async () => {
      const [a, b] = users("alice", "bob");
      const old = await expiring.send(text(a, b, "expires"));
      await until((old.message.expiresAt ?? 0) - 600);
      const fresh = await expiring.send(text(a, b, "later"));
      await until(old.message.expiresAt ?? 0);
      const [summary] = await expiring.conversations(b, 10);
      // Unless the machine stalled past the second one's expiry too, exactly one is unread.
      if (Date.now() < (fresh.message.expiresAt ?? 0)) {
        assert.equal(summary?.unread, 1);
        const unread = await expiring.readUnread(b, a, 10, false);
        assert.deepEqual(
          unread.messages.map((m) => m.id),
          [fresh.message.id],
        );
      }
      await until(fresh.message.expiresAt ?? 0);
      assert.equal((await expiring.conversations(b, 10))[0]?.unread, 0);
    });

    it("an expired message cannot be edited, and unsending it changes nothing", async () => {
      const [a, b] = users("alice", "bob");
      const lc = await lifecycleOf(expiring);
      const sent = await expiring.send(text(a, b, "edit me"));
      await until(sent.message.expiresAt ?? 0);
      await assert.rejects(
        lc.updateMessage(a, sent.message.id, (m) => editRule(m, a, "new", Date.now(), DEFAULT_LIMITS)),
        /unsent/,
      );
      const r = await lc.updateMessage(a, sent.message.id, (m) =>
        unsendRule(m, a, Date.now(), DEFAULT_LIMITS),
      );
      assert.equal(r?.events.length, 0);
      assert.equal(r?.message.kind, "deleted");
    });
  });

  describe(`expiry contract (ttl and sweep): ${name}`, () => {
    let plain: Store;
    let expiring: Store;
    let px: ExpiryStore;
    let ex: ExpiryStore;
    before(async () => {
      plain = await options.makeStore({});
      expiring = await options.makeStore({ messageTtlS: 1 });
      px = await expiryOf(plain);
      ex = await expiryOf(expiring);
    });
    after(async () => {
      await px.close?.();
      await ex.close?.();
      await plain.close();
      await expiring.close();
    });

    it("setTtl stores the ttl with a ttl event on both sides; a repeat appends nothing; 0 removes it", async () => {
      const [a, b] = users("alice", "bob");
      const before = await plain.send(text(a, b, "before"));
      const r = await px.setTtl(a, b, 3600);
      assert.equal(r.seconds, 3600);
      assert.deepEqual(
        r.events.map((e) => [e.user, e.event]),
        [
          [a, { type: "ttl", seq: 2, peer: b, seconds: 3600 }],
          [b, { type: "ttl", seq: 2, peer: a, seconds: 3600 }],
        ],
      );
      for (const e of r.events) assert.equal(e.json, JSON.stringify(e.event));
      assert.equal(await px.ttl(b, a), 3600);
      assert.deepEqual((await px.setTtl(b, a, 3600)).events, []);
      // Applies to messages sent after it, either way; not to those before.
      const after1 = await plain.send(text(b, a, "after"));
      assert.equal(after1.message.expiresAt, after1.message.ts + 3_600_000);
      const page = await plain.history(a, b, { limit: 10 });
      assert.equal("expiresAt" in at(page.messages, 0), false);
      assert.equal(at(page.messages, 1).expiresAt, after1.message.ts + 3_600_000);
      assert.equal(before.message.expiresAt, undefined);
      // Replayed on resume.
      const events = (await plain.eventsSince(b, 0, 10)).events;
      assert.deepEqual(
        events.map((e) => e.type),
        ["message", "ttl", "message"],
      );
      const off = await px.setTtl(b, a, 0);
      assert.deepEqual(
        off.events.map((e) => [e.user, e.event.type, e.event.type === "ttl" ? e.event.seconds : -1]),
        [
          [b, "ttl", 0],
          [a, "ttl", 0],
        ],
      );
      assert.equal(await px.ttl(a, b), 0);
      assert.equal((await plain.send(text(a, b, "forever"))).message.expiresAt, undefined);
      // Another conversation of the same users is untouched.
      const [c] = users("carol");
      await px.setTtl(a, b, 60);
      assert.equal((await plain.send(text(a, c, "elsewhere"))).message.expiresAt, undefined);
    });

    it("an unmatch that erases the conversation forgets its ttl; one that keeps it keeps the ttl", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      await plain.pairs.match(a, b, undefined);
      await plain.pairs.match(a, c, undefined);
      await px.setTtl(a, b, 600);
      await px.setTtl(a, c, 600);
      await plain.pairs.unmatch(a, b, true);
      await plain.pairs.unmatch(a, c, false);
      assert.equal(await px.ttl(a, b), 0);
      assert.equal(await px.ttl(a, c), 600);
      await plain.pairs.match(a, b, undefined);
      assert.equal((await plain.send(text(a, b, "fresh start"))).message.expiresAt, undefined);
    });

    it("the conversation list shows each conversation's own ttl on both sides (0: none, the default not shown)", async () => {
      const [a, b, c, d] = users("alice", "bob", "carol", "dave");
      await plain.send(text(a, b, "to bob"));
      await plain.send(text(a, c, "to carol"));
      await plain.send(text(d, a, "from dave"));
      await px.setTtl(b, a, 3600);
      await px.setTtl(a, c, 60);
      const ttls = async (store: Store, user: string) =>
        Object.fromEntries((await store.conversations(user, 10)).map((s) => [s.peer, s.ttl]));
      assert.deepEqual(await ttls(plain, a), { [b]: 3600, [c]: 60, [d]: 0 });
      assert.deepEqual(await ttls(plain, b), { [a]: 3600 });
      assert.deepEqual(await ttls(plain, c), { [a]: 60 });
      await px.setTtl(c, a, 0);
      assert.deepEqual(await ttls(plain, a), { [b]: 3600, [c]: 0, [d]: 0 });
      // The server-wide default is not the conversation's own: it reads 0.
      await expiring.send(text(a, b, "default only"));
      assert.equal(at(await expiring.conversations(a, 10), 0).ttl, 0);
    });

    it("a conversation's own ttl wins over the server default; 0 falls back to the default", async () => {
      const [a, b] = users("alice", "bob");
      await ex.setTtl(a, b, 120);
      assert.equal((await expiring.send(text(a, b, "x"))).message.expiresAt !== undefined, true);
      const own = await expiring.send(text(a, b, "own"));
      assert.equal(own.message.expiresAt, own.message.ts + 120_000);
      await ex.setTtl(a, b, 0);
      const fallback = await expiring.send(text(a, b, "default"));
      assert.equal(fallback.message.expiresAt, fallback.message.ts + 1000);
    });

    it("sweep erases expired messages like an unsend: the stored body is the tombstone, once", async () => {
      const [a, b] = users("alice", "bob");
      const sent = [];
      for (let i = 0; i < 5; i++) sent.push(await expiring.send(text(a, b, `vanishing ${i}`)));
      const last = at(sent, 4).message;
      await until(last.expiresAt ?? 0);
      // In batches: `more` while a full batch was taken.
      let erased = 0;
      for (;;) {
        const r = await ex.sweep(Date.now(), 2);
        erased += r.erased;
        if (!r.more) break;
      }
      assert.ok(erased >= 5, `erased ${erased}`);
      for (const { message } of sent) {
        const raw = await options.rawBody(expiring, a, b, message.id);
        assert.equal(
          raw,
          JSON.stringify({
            id: message.id,
            from: a,
            to: b,
            ts: message.ts,
            kind: "deleted",
            deletedAt: message.expiresAt,
          }),
        );
      }
      assert.deepEqual(await ex.sweep(Date.now(), 100), { erased: 0, more: false });
      // Reads are the same as before the sweep: tombstones, nothing unread, replay without text.
      const [summary] = await expiring.conversations(b, 10);
      assert.equal(summary?.unread, 0);
      assert.equal(summary?.lastMessage?.kind, "deleted");
      const replay = JSON.stringify((await expiring.eventsSince(b, 0, 50)).events);
      assert.equal(replay.includes("vanishing"), false, replay);
      assert.equal(
        JSON.stringify((await expiring.history(a, b, { limit: 10 })).messages).includes("vanishing"),
        false,
      );
      // The conversation goes on.
      const next = await expiring.send(text(b, a, "still here"));
      assert.equal((await expiring.conversations(a, 10))[0]?.unread, 1);
      assert.equal(next.message.text, "still here");
    });

    it("an unsent message that later expires is not counted twice, and sweeping it changes nothing", async () => {
      const [a, b] = users("alice", "bob");
      const lc = await lifecycleOf(expiring);
      const gone = await expiring.send(text(a, b, "unsent"));
      const kept = await expiring.send(text(a, b, "kept"));
      await lc.updateMessage(a, gone.message.id, (m) => unsendRule(m, a, Date.now(), DEFAULT_LIMITS));
      assert.equal((await expiring.conversations(b, 10))[0]?.unread, 1);
      await until(kept.message.expiresAt ?? 0);
      assert.equal((await expiring.conversations(b, 10))[0]?.unread, 0);
      await ex.sweep(Date.now(), 100);
      assert.equal((await expiring.conversations(b, 10))[0]?.unread, 0);
      const raw = await options.rawBody(expiring, a, b, gone.message.id);
      assert.equal(JSON.parse(raw ?? "{}").kind, "deleted");
      assert.equal(JSON.parse(raw ?? "{}").deletedAt < (gone.message.expiresAt ?? 0), true);
    });
  });
}
