/**
 * The pairs contract (PairStore in src/core/pairs.ts, and the store's send gate), run unchanged
 * against every store: each store's test file calls runPairsContract with a factory.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DuetError } from "../../src/core/errors.js";
import type { PairsMode } from "../../src/core/pairs.js";
import type { Store } from "../../src/core/ports/store.js";
import type { PairEvent, SendInput, StoredEvent } from "../../src/core/types.js";
import { at } from "../helpers/kit.js";

export interface PairsContractOptions {
  makeStore: (opts: { maxEvents: number; pairs: PairsMode }) => Promise<Store>;
}

let counter = 0;
function users<const Names extends readonly string[]>(...names: Names): { [K in keyof Names]: string } {
  counter++;
  return names.map((n) => `${n}p${counter}`) as { [K in keyof Names]: string };
}

function text(from: string, to: string, body: string, clientMsgId: string | null = null): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId };
}

const isCode = (code: string) => (err: unknown) => err instanceof DuetError && err.code === code;

/** Every message text and `pair` state in a user's whole log. */
async function logOf(store: Store, user: string): Promise<StoredEvent[]> {
  return (await store.eventsSince(user, 0, 10_000)).events;
}

function texts(events: StoredEvent[]): string[] {
  return events.flatMap((e) => (e.type === "message" && e.message.text !== null ? [e.message.text] : []));
}

export function runPairsContract(name: string, options: PairsContractOptions): void {
  describe(`pairs contract: ${name}`, () => {
    let open: Store;
    let matched: Store;
    before(async () => {
      [open, matched] = await Promise.all([
        options.makeStore({ maxEvents: 10_000, pairs: "open" }),
        options.makeStore({ maxEvents: 10_000, pairs: "matched" }),
      ]);
    });
    after(async () => {
      await Promise.all([open.close(), matched.close()]);
    });

    it("matches a pair once, unordered, with a pair event on both logs and the match listed", async () => {
      const [a, b] = users("bob", "alice");
      const first = await matched.pairs.match(a, b, undefined);
      assert.equal(first.created, true);
      assert.deepEqual(first.pair.users, [b, a]);
      assert.equal(first.pair.screen, null);
      assert.ok(Math.abs(first.pair.since - Date.now()) < 60_000);
      assert.deepEqual(
        first.events.map((e) => [e.user, e.event]).sort(),
        [
          [a, { type: "pair", seq: 1, peer: b, state: "matched" }],
          [b, { type: "pair", seq: 1, peer: a, state: "matched" }],
        ].sort(),
      );
      for (const e of first.events) if (e.json !== undefined) assert.equal(e.json, JSON.stringify(e.event));
      // Again, the other way round: the same pair, nothing new; a screen given is kept.
      const again = await matched.pairs.match(b, a, "mask");
      assert.equal(again.created, false);
      assert.deepEqual(again.events, []);
      assert.deepEqual(again.pair, { ...first.pair, screen: "mask" });
      assert.deepEqual(await matched.pairs.pair(a, b), again.pair);
      assert.deepEqual((await matched.pairs.match(a, b, undefined)).pair.screen, "mask");
      assert.deepEqual((await matched.pairs.match(a, b, null)).pair.screen, null);
      assert.deepEqual(await matched.pairs.pairsOf(a), [{ ...first.pair, screen: null }]);
      assert.deepEqual(await matched.pairs.pairsOf(users("nobody")[0]), []);
      assert.equal(await matched.pairs.pair(a, users("stranger")[0]), null);
      // Replayed like any stored event.
      assert.deepEqual(await logOf(matched, a), [{ type: "pair", seq: 1, peer: b, state: "matched" }]);
      // Listed at once, with no last message.
      const entry = at(await matched.conversations(a, 10), 0);
      assert.deepEqual([entry.peer, entry.unread, entry.lastMessage], [b, 0, null]);
      assert.equal(entry.updatedAt, first.pair.since);
    });

    it("in matched mode refuses sends between unmatched users, and lets system messages through", async () => {
      const [a, b] = users("alice", "bob");
      await assert.rejects(matched.send(text(a, b, "hi")), isCode("not_matched"));
      assert.equal(await matched.head(a), 0);
      assert.equal(await matched.head(b), 0);
      await matched.send({ ...text(a, b, "system note"), kind: "system" });
      await matched.pairs.match(a, b, undefined);
      const sent = await matched.send(text(a, b, "hi"));
      assert.equal(sent.message.text, "hi");
      assert.deepEqual(await matched.pairs.relation(a, b), {
        pair: "matched",
        aBlockedB: false,
        bBlockedA: false,
      });
      await matched.block(b, a);
      assert.deepEqual(await matched.pairs.relation(a, b), {
        pair: "matched",
        aBlockedB: false,
        bBlockedA: true,
      });
      await assert.rejects(matched.send(text(a, b, "blocked")), isCode("blocked"));
      assert.deepEqual(await matched.pairs.relation(users("x")[0], a), {
        pair: "none",
        aBlockedB: false,
        bBlockedA: false,
      });
    });

    it("in open mode lets anyone talk, but not an unmatched pair until it is matched again", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      await open.send(text(a, c, "no pair needed"));
      await open.pairs.match(a, b, undefined);
      await open.send(text(a, b, "hi"));
      const un = await open.pairs.unmatch(b, a, true);
      assert.deepEqual(
        un.events
          .map(
            (e) => e.event.type === "pair" && [e.user, e.event.peer, e.event.state, e.event.historyDeleted],
          )
          .sort(),
        [
          [a, b, "unmatched", true],
          [b, a, "unmatched", true],
        ].sort(),
      );
      assert.equal(un.erased, 1);
      await assert.rejects(open.send(text(a, b, "still there?")), isCode("not_matched"));
      await assert.rejects(open.send(text(b, a, "and back?")), isCode("not_matched"));
      assert.equal((await open.pairs.relation(a, b)).pair, "unmatched");
      assert.equal(await open.pairs.pair(a, b), null);
      await assert.rejects(open.pairs.unmatch(a, b, true), isCode("not_found"));
      await open.pairs.match(a, b, undefined);
      const back = await open.send(text(b, a, "matched again"));
      // Only what came after the new match.
      assert.deepEqual(
        (await open.history(a, b, { limit: 10 })).messages.map((m) => m.id),
        [back.message.id],
      );
    });

    it("unmatching erases the conversation for both: messages, markers, unread, list entries, events", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      await matched.pairs.match(a, b, undefined);
      await matched.pairs.match(a, c, undefined);
      const before = await matched.countMessages();
      for (let i = 0; i < 5; i++) await matched.send(text(a, b, `secret ${i}`, `k${i}`));
      await matched.send(text(b, a, "secret reply"));
      await matched.markRead(b, a, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
      await matched.send(text(c, a, "unrelated"));
      assert.equal(await matched.countMessages(), before + 7);
      const head = await matched.head(a);
      const un = await matched.pairs.unmatch(a, b, true);
      assert.equal(un.erased, 6);
      assert.equal(await matched.countMessages(), before + 1);
      for (const [user, peer] of [
        [a, b],
        [b, a],
      ] as const) {
        assert.deepEqual(await matched.history(user, peer, { limit: 200 }), { messages: [], hasMore: false });
        assert.deepEqual((await matched.readUnread(user, peer, 200, false)).messages, []);
        assert.ok(!(await matched.conversations(user, 50)).some((x) => x.peer === peer));
        const log = await logOf(matched, user);
        assert.ok(!texts(log).some((t) => t.startsWith("secret")), `${user}'s log still has the text`);
        assert.ok(!log.some((e) => e.type === "read"), `${user}'s log still has the read receipt`);
        // The pair events stay: a resume sees the match and the unmatch.
        assert.deepEqual(
          log.filter((e): e is PairEvent => e.type === "pair" && e.peer === peer).map((e) => e.state),
          ["matched", "unmatched"],
        );
      }
      // Carol's conversation with alice is untouched; seqs go on from where they were.
      assert.deepEqual(texts(await logOf(matched, a)), ["unrelated"]);
      assert.deepEqual(
        (await matched.history(a, c, { limit: 10 })).messages.map((m) => m.text),
        ["unrelated"],
      );
      assert.equal(await matched.head(a), head + 1);
      // A cursor inside the erased stretch is served what is left (or a reset), never the text.
      const resumed = await matched.eventsSince(a, 1, 100);
      assert.ok(!texts(resumed.events).some((t) => t.startsWith("secret")));
      // The clientMsgId records went too: the same key stores a new message after a new match.
      await matched.pairs.match(a, b, undefined);
      const fresh = await matched.send(text(a, b, "hello again", "k0"));
      assert.equal(fresh.duplicate, false);
      assert.equal(fresh.message.text, "hello again");
    });

    it("unmatching with history kept leaves the conversation and says so", async () => {
      const [a, b] = users("alice", "bob");
      await matched.pairs.match(a, b, "flag");
      await matched.send(text(a, b, "kept"));
      const un = await matched.pairs.unmatch(a, b, false);
      assert.equal(un.erased, 0);
      assert.ok(un.events.every((e) => e.event.type === "pair" && e.event.historyDeleted === false));
      assert.deepEqual(
        (await matched.history(b, a, { limit: 10 })).messages.map((m) => m.text),
        ["kept"],
      );
      assert.deepEqual(texts(await logOf(matched, b)), ["kept"]);
      assert.deepEqual(await matched.pairs.pairsOf(a), []);
      await assert.rejects(matched.send(text(a, b, "no")), isCode("not_matched"));
    });

    it("a forced unmatch (SPEC 15's erase) ends an unpaired or kept conversation with no matched event", async () => {
      // What a device resuming from `since` sees (from 0 a store may answer `reset`: the log's
      // start was erased).
      const resumed = async (store: Store, user: string, since: number) =>
        (await store.eventsSince(user, since, 10_000)).events;
      const headOf = async (store: Store, user: string) => (await store.eventsSince(user, 0, 10_000)).head;
      const pairStates = (events: StoredEvent[]) =>
        events.flatMap((e) => (e.type === "pair" ? [[e.state, e.historyDeleted]] : []));
      // Open mode, never paired: one `unmatched` each side, the history gone, nothing matched.
      const [a, b] = users("alice", "bob");
      await open.send(text(a, b, "open one"));
      await open.send(text(b, a, "open two"));
      await assert.rejects(open.pairs.unmatch(a, b, true), isCode("not_found"));
      await assert.rejects(open.pairs.unmatch(a, b, false, true), isCode("not_found"));
      const cursor = await headOf(open, b);
      const forced = await open.pairs.unmatch(a, b, true, true);
      assert.equal(forced.erased, 2);
      assert.deepEqual(
        forced.events.map((e) => [e.user, e.event.type === "pair" && e.event.state]).sort(),
        [
          [a, "unmatched"],
          [b, "unmatched"],
        ].sort(),
      );
      const seen = await resumed(open, b, cursor);
      assert.deepEqual(pairStates(seen), [["unmatched", true]]);
      assert.deepEqual(texts(seen), []);
      assert.deepEqual((await open.history(b, a, { limit: 10 })).messages, []);
      assert.equal(await open.pairs.pair(a, b), null);
      // A repeat finds nothing to end: no event, nothing erased.
      const again = await open.pairs.unmatch(a, b, true, true);
      assert.deepEqual([again.erased, again.events.length], [0, 0]);
      // Unmatched with the history kept: the side still listing it is told once more, nothing matched.
      const [c, d] = users("carol", "dave");
      await matched.pairs.match(c, d, undefined);
      await matched.send(text(c, d, "kept then erased"));
      await matched.pairs.unmatch(c, d, false);
      const kept = await headOf(matched, d);
      const ended = await matched.pairs.unmatch(c, d, true, true);
      assert.equal(ended.erased, 1);
      assert.deepEqual(pairStates(await resumed(matched, d, kept)), [["unmatched", true]]);
      assert.deepEqual(texts(await resumed(matched, d, 0)), []);
      assert.deepEqual((await matched.history(d, c, { limit: 10 })).messages, []);
    });

    it("erases a conversation longer than one erasure step, and only that one", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      await open.pairs.match(a, b, undefined);
      await open.send(text(a, c, "stays"));
      // In waves, so a store with a cap on requests in flight takes them all.
      for (let wave = 0; wave < 9; wave++) {
        const sends: Promise<unknown>[] = [];
        for (let i = wave * 500; i < (wave + 1) * 500; i++)
          sends.push(open.send(text(i % 2 ? a : b, i % 2 ? b : a, `long ${i}`)));
        await Promise.all(sends);
      }
      const un = await open.pairs.unmatch(a, b, true);
      assert.equal(un.erased, 4500);
      assert.deepEqual(await open.history(a, b, { limit: 200 }), { messages: [], hasMore: false });
      assert.deepEqual(texts(await logOf(open, a)), ["stays"]);
      assert.deepEqual(texts(await logOf(open, b)), []);
      assert.deepEqual(
        (await open.history(c, a, { limit: 10 })).messages.map((m) => m.text),
        ["stays"],
      );
    });

    it("orders a send racing an unmatch: it is refused, or stored and then erased", async () => {
      const [a, b] = users("alice", "bob");
      await matched.pairs.match(a, b, undefined);
      const racing = Array.from({ length: 20 }, (_, i) =>
        matched.send(text(a, b, `race ${i}`)).then(
          () => "stored",
          (err: unknown) => (err instanceof DuetError ? err.code : "other"),
        ),
      );
      const un = matched.pairs.unmatch(a, b, true);
      const outcomes = await Promise.all(racing);
      await un;
      assert.ok(
        outcomes.every((o) => o === "stored" || o === "not_matched"),
        outcomes.join(),
      );
      assert.deepEqual(await matched.history(a, b, { limit: 200 }), { messages: [], hasMore: false });
      assert.deepEqual(texts(await logOf(matched, b)), []);
    });
  });
}
