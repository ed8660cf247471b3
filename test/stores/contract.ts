/**
 * The store contract (src/stores/store.ts), run unchanged against every implementation:
 * each store's test file calls runStoreContract with a factory that returns a fresh, empty store.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DuetError } from "../../src/core/errors.js";
import type { Store } from "../../src/core/ports/store.js";
import type { SendInput } from "../../src/core/types.js";
import { at, sleep, take } from "../helpers/kit.js";

export interface ContractOptions {
  /** Returns a fresh, empty store whose retention keeps at most `maxEvents` events per user. */
  makeStore: (opts: { maxEvents: number }) => Promise<Store>;
}

let counter = 0;
/** Unique user ids per test so tests can share one store. */
function users<const Names extends readonly string[]>(...names: Names): { [K in keyof Names]: string } {
  counter++;
  return names.map((n) => `${n}${counter}`) as { [K in keyof Names]: string };
}

function text(from: string, to: string, body: string, clientMsgId: string | null = null): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId };
}

export function runStoreContract(name: string, options: ContractOptions): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await options.makeStore({ maxEvents: 50 });
    });
    after(async () => {
      await store.close();
    });

    it("has an epoch", () => {
      assert.equal(typeof store.epoch, "string");
      assert.ok(store.epoch.length > 0);
    });

    it("stores a message with an id, both message events and contiguous seqs", async () => {
      const [a, b] = users("alice", "bob");
      const r1 = await store.send(text(a, b, "hi"));
      assert.equal(r1.duplicate, false);
      assert.match(r1.message.id, /^[0-9A-Z]{26}$/);
      assert.equal(r1.message.from, a);
      assert.equal(r1.message.to, b);
      assert.equal(r1.message.text, "hi");
      assert.equal(r1.message.kind, "text");
      assert.deepEqual(r1.message.links, []);
      assert.equal(r1.message.image, null);
      assert.equal(r1.message.clientMsgId, null);
      assert.ok(Math.abs(r1.message.ts - Date.now()) < 60_000);
      assert.deepEqual(
        r1.events.map((e) => [e.user, e.event.seq, e.event.type]),
        [
          [a, 1, "message"],
          [b, 1, "message"],
        ],
      );
      // Where a store hands on the serialised event, it is exactly the event.
      for (const e of r1.events) if (e.json !== undefined) assert.equal(e.json, JSON.stringify(e.event));
      const r2 = await store.send(text(b, a, "hello"));
      assert.ok(r2.message.id > r1.message.id);
      assert.deepEqual(
        r2.events.map((e) => [e.user, e.event.seq]),
        [
          [b, 2],
          [a, 2],
        ],
      );
      assert.equal(await store.head(a), 2);
      assert.equal(await store.head(b), 2);
      assert.equal(await store.head(users("nobody")[0]), 0);
    });

    it("keeps image, links and a system kind as sent", async () => {
      const [a, b] = users("alice", "bob");
      const r = await store.send({
        from: a,
        to: b,
        kind: "image",
        text: "caption",
        image: { url: "https://x.test/a.png", width: 10, height: 20 },
        links: [{ url: "https://x.test", title: "t" }, { url: "http://y.test" }],
        clientMsgId: "c1",
      });
      const { messages } = await store.history(b, a, { limit: 10 });
      assert.deepEqual(messages, [r.message]);
      assert.deepEqual(at(messages, 0).image, { url: "https://x.test/a.png", width: 10, height: 20 });
      const sys = await store.send({ ...text("system", b, "welcome"), kind: "system" });
      assert.equal(sys.message.kind, "system");
    });

    it("keeps what the safety checks set (screened, moderated), and adds nothing to other messages", async () => {
      const [a, b] = users("alice", "bob");
      const plain = await store.send(text(a, b, "hello"));
      const masked = await store.send({
        ...text(a, b, "call [hidden]"),
        screened: ["phone", "email"],
        moderated: true,
      });
      assert.deepEqual(masked.message.screened, ["phone", "email"]);
      assert.equal(masked.message.moderated, true);
      assert.ok(
        masked.json === undefined ||
          JSON.stringify(JSON.parse(masked.json)) === JSON.stringify(masked.message),
      );
      const { messages } = await store.history(b, a, { limit: 10 });
      assert.deepEqual(messages, [plain.message, masked.message]);
      assert.ok(!("screened" in plain.message) && !("moderated" in plain.message));
      assert.ok(!("screened" in (messages[0] ?? {})) && !("moderated" in (messages[0] ?? {})));
      const page = await store.eventsSince(b, 0, 10);
      const events = page.events.flatMap((e) => (e.type === "message" ? [e.message] : []));
      assert.deepEqual(events.at(-1), masked.message);
      const unread = await store.readUnread(b, a, 10, false);
      assert.deepEqual(unread.messages.at(-1), masked.message);
      const [summary] = await store.conversations(b, 1);
      assert.deepEqual(summary?.lastMessage, masked.message);
    });

    it("is idempotent per sender and clientMsgId", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      const first = await store.send(text(a, b, "once", "m-1"));
      const again = await store.send(text(a, b, "once, changed", "m-1"));
      assert.equal(again.duplicate, true);
      assert.deepEqual(again.message, first.message);
      assert.deepEqual(again.events, []);
      const other = await store.send(text(c, b, "mine", "m-1"));
      assert.equal(other.duplicate, false);
      assert.equal(await store.head(b), 2);
      const [x, y] = await Promise.all([
        store.send(text(a, c, "p", "m-2")),
        store.send(text(a, c, "p", "m-2")),
      ]);
      assert.equal(x.message.id, y.message.id);
      assert.equal([x.duplicate, y.duplicate].filter(Boolean).length, 1);
    });

    it("scopes clientMsgId to the sender: the same one to another recipient returns the original (SPEC 3)", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      const first = await store.send(text(a, b, "to bob", "m-1"));
      const second = await store.send(text(a, c, "to carol", "m-1"));
      assert.equal(second.duplicate, true);
      assert.deepEqual(second.message, first.message);
      assert.deepEqual(second.events, []);
      assert.equal(await store.head(c), 0);
      assert.equal(await store.head(a), 1);
      assert.deepEqual((await store.history(a, c, { limit: 10 })).messages, []);
      // And back to the first recipient: still the one message.
      const third = await store.send(text(a, b, "to bob again", "m-1"));
      assert.equal(third.duplicate, true);
      assert.equal(third.message.id, first.message.id);
    });

    it("refuses a send to a user who blocked the sender, and nothing is stored", async () => {
      const [a, b] = users("alice", "bob");
      await store.block(b, a);
      assert.equal(await store.isBlocked(b, a), true);
      assert.equal(await store.isBlocked(a, b), false);
      assert.deepEqual(await store.blocks(b), [a]);
      await assert.rejects(store.send(text(a, b, "hi")), (err: unknown) => {
        return err instanceof DuetError && err.code === "blocked";
      });
      assert.equal(await store.head(a), 0);
      assert.equal(await store.head(b), 0);
      // The blocker can still write; blocking is one-way.
      await store.send(text(b, a, "bye"));
      await store.block(b, a); // twice is fine
      await store.unblock(b, a);
      assert.deepEqual(await store.blocks(b), []);
      await store.send(text(a, b, "hi again"));
    });

    it("keeps one total order per conversation under concurrent sends", async () => {
      const [a, b] = users("alice", "bob");
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.send(i % 2 ? text(a, b, `a${i}`) : text(b, a, `b${i}`))),
      );
      const fromA = await store.history(a, b, { limit: 200 });
      const fromB = await store.history(b, a, { limit: 200 });
      assert.equal(fromA.messages.length, 40);
      assert.deepEqual(fromA.messages, fromB.messages);
      const ids = fromA.messages.map((m) => m.id);
      assert.deepEqual([...ids].sort(), ids);
      assert.equal(new Set(ids).size, 40);
      const events = await store.eventsSince(a, 0, 100);
      assert.deepEqual(
        events.events.map((e) => e.seq),
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      const order = events.events.map((e) => (e.type === "message" ? e.message.id : ""));
      assert.deepEqual(order, ids);
    });

    it("pages history both ways", async () => {
      const [a, b] = users("alice", "bob");
      const sent = [];
      for (let i = 0; i < 7; i++) sent.push((await store.send(text(a, b, `m${i}`))).message);
      const last3 = await store.history(a, b, { limit: 3 });
      assert.deepEqual(
        last3.messages.map((m) => m.text),
        ["m4", "m5", "m6"],
      );
      assert.equal(last3.hasMore, true);
      const prev = await store.history(a, b, { limit: 3, before: at(last3.messages, 0).id });
      assert.deepEqual(
        prev.messages.map((m) => m.text),
        ["m1", "m2", "m3"],
      );
      const first = await store.history(a, b, { limit: 3, before: at(prev.messages, 0).id });
      assert.deepEqual(
        first.messages.map((m) => m.text),
        ["m0"],
      );
      assert.equal(first.hasMore, false);
      const fwd = await store.history(b, a, { limit: 2, after: at(sent, 1).id });
      assert.deepEqual(
        fwd.messages.map((m) => m.text),
        ["m2", "m3"],
      );
      assert.equal(fwd.hasMore, true);
      const between = await store.history(b, a, { limit: 10, after: at(sent, 1).id, before: at(sent, 4).id });
      assert.deepEqual(
        between.messages.map((m) => m.text),
        ["m2", "m3"],
      );
      const other = users("carol")[0];
      assert.deepEqual(await store.history(a, other, { limit: 10 }), { messages: [], hasMore: false });
    });

    it("lists conversations by latest activity with unread counts", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      await store.send(text(b, a, "from bob 1"));
      await store.send(text(b, a, "from bob 2"));
      await sleep(5);
      const last = await store.send(text(c, a, "from carol"));
      const list = await store.conversations(a, 50);
      assert.deepEqual(
        list.map((c) => [c.peer, c.unread]),
        [
          [c, 1],
          [b, 2],
        ],
      );
      assert.deepEqual(at(list, 0).lastMessage, last.message);
      assert.equal(at(list, 0).updatedAt, last.message.ts);
      const forB = await store.conversations(b, 50);
      assert.deepEqual(
        forB.map((x) => [x.peer, x.unread]),
        [[a, 0]],
      );
      const older = await store.conversations(a, 50, at(list, 0).updatedAt);
      assert.deepEqual(
        older.map((x) => x.peer),
        [b],
      );
      assert.equal((await store.conversations(a, 1)).length, 1);
    });

    it("reads the oldest unread and marks exactly those read", async () => {
      const [a, b] = users("alice", "bob");
      for (let i = 0; i < 5; i++) await store.send(text(b, a, `u${i}`));
      await store.send(text(a, b, "mine")); // never unread for a
      const peek = await store.readUnread(a, b, 2, false);
      assert.deepEqual(
        peek.messages.map((m) => m.text),
        ["u0", "u1"],
      );
      assert.deepEqual(peek.events, []);
      const r = await store.readUnread(a, b, 2, true);
      assert.deepEqual(
        r.messages.map((m) => m.text),
        ["u0", "u1"],
      );
      assert.equal(r.events.length, 2);
      const mine = r.events.find((e) => e.user === a)!.event;
      const theirs = r.events.find((e) => e.user === b)!.event;
      assert.equal(mine.type, "read");
      assert.equal(theirs.type, "read");
      if (mine.type === "read" && theirs.type === "read") {
        assert.deepEqual([mine.peer, mine.reader, mine.upTo], [b, a, at(r.messages, 1).id]);
        assert.deepEqual([theirs.peer, theirs.reader, theirs.upTo], [a, a, at(r.messages, 1).id]);
      }
      const conv = at(await store.conversations(a, 10), 0);
      assert.equal(conv.unread, 3);
      const rest = await store.readUnread(a, b, 20, true);
      assert.deepEqual(
        rest.messages.map((m) => m.text),
        ["u2", "u3", "u4"],
      );
      assert.deepEqual((await store.readUnread(a, b, 20, true)).messages, []);
      assert.equal((await store.conversations(a, 10))[0]?.unread, 0);
      // Nothing was deleted: history still has all six.
      assert.equal((await store.history(a, b, { limit: 50 })).messages.length, 6);
    });

    it("keeps summaries and read markers right when sends and a read share one turn", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      // Nothing awaited in between: a store that batches per turn sees these as one batch, and
      // the read must find the conversation its first message is creating in the same batch.
      const first = [store.send(text(b, a, "b1")), store.send(text(c, a, "c1"))];
      const read = store.markRead(a, b, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
      const later = [store.send(text(b, a, "b2")), store.send(text(a, b, "a1"))];
      const [b1] = take(await Promise.all(first), 1);
      assert.equal((await read).upTo, b1.message.id);
      const [b2, a1] = take(await Promise.all(later), 2);
      const list = await store.conversations(a, 10);
      const withB = list.find((x) => x.peer === b)!;
      assert.deepEqual(withB.lastMessage, a1.message);
      assert.equal(withB.unread, 1); // b2
      assert.equal(list.find((x) => x.peer === c)!.lastMessage?.text, "c1");
      assert.deepEqual((await store.conversations(b, 10))[0]?.lastMessage, a1.message);
      assert.deepEqual(
        (await store.readUnread(a, b, 10, false)).messages.map((m) => m.id),
        [b2.message.id],
      );
      // Replayed events equal the ones the writes returned.
      const replay = await store.eventsSince(a, 0, 100);
      const returned = [...(await Promise.all([...first, ...later])), await read]
        .flatMap((r) => r.events)
        .filter((e) => e.user === a)
        .map((e) => e.event);
      assert.equal(returned.length, replay.events.length);
      for (const event of returned) assert.deepEqual(replay.events[event.seq - 1], event);
    });

    it("marks read up to an id, never backwards, with a read event on both sides", async () => {
      const [a, b] = users("alice", "bob");
      const m = [];
      for (let i = 0; i < 4; i++) m.push((await store.send(text(b, a, `u${i}`))).message);
      const r = await store.markRead(a, b, at(m, 1).id);
      assert.equal(r.upTo, at(m, 1).id);
      assert.deepEqual(r.events.map((e) => e.user).sort(), [a, b].sort());
      assert.equal((await store.conversations(a, 10))[0]?.unread, 2);
      const back = await store.markRead(a, b, at(m, 0).id);
      assert.equal(back.upTo, at(m, 1).id);
      assert.deepEqual(back.events, []);
      // An id past the end marks up to the last message from the peer.
      const all = await store.markRead(a, b, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
      assert.equal(all.upTo, at(m, 3).id);
      assert.equal((await store.conversations(a, 10))[0]?.unread, 0);
      // The peer marking its own messages read changes nothing.
      const none = await store.markRead(b, a, at(m, 3).id);
      assert.equal(none.upTo, null);
      assert.deepEqual(none.events, []);
    });

    it("serves the event log since a cursor, in pages", async () => {
      const [a, b] = users("alice", "bob");
      for (let i = 0; i < 10; i++) await store.send(text(a, b, `m${i}`));
      const page = await store.eventsSince(b, 3, 4);
      assert.equal(page.reset, false);
      assert.equal(page.head, 10);
      assert.deepEqual(
        page.events.map((e) => e.seq),
        [4, 5, 6, 7],
      );
      const tail = await store.eventsSince(b, 10, 100);
      assert.deepEqual(tail.events, []);
      assert.equal(tail.reset, false);
      const future = await store.eventsSince(b, 11, 100);
      assert.equal(future.reset, true);
      const empty = await store.eventsSince(users("x")[0], 0, 100);
      assert.deepEqual(empty, { events: [], head: 0, reset: false });
    });

    it("retains only the newest events and resets an older cursor", async () => {
      const [a, b] = users("alice", "bob");
      for (let i = 0; i < 120; i++) await store.send(text(a, b, `m${i}`));
      const old = await store.eventsSince(b, 1, 500);
      assert.equal(old.reset, true);
      assert.equal(old.head, 120);
      const recent = await store.eventsSince(b, 100, 500);
      assert.equal(recent.reset, false);
      assert.equal(recent.events.length, 20);
      // Messages themselves are not trimmed.
      assert.equal((await store.history(a, b, { limit: 200 })).messages.length, 120);
    });

    it("counts messages and answers ping", async () => {
      const n = await store.countMessages();
      const [a, b] = users("alice", "bob");
      await store.send(text(a, b, "one"));
      assert.equal(await store.countMessages(), n + 1);
      await store.ping();
    });
  });
}
