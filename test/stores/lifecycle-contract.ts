/**
 * The LifecycleStore contract (src/core/ports/lifecycle.ts), run unchanged against every store:
 * each store's test file calls runLifecycleContract with the same factory as runStoreContract.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DuetError } from "../../src/core/errors.js";
import { DEFAULT_LIMITS, editRule, reactionRule, unsendRule } from "../../src/core/lifecycle-rules.js";
import { DEFAULT_SETTINGS, type LifecycleStore } from "../../src/core/ports/lifecycle.js";
import type { Store } from "../../src/core/ports/store.js";
import type { Message, SendInput } from "../../src/core/types.js";
import { lifecycleOf } from "../../src/stores/lifecycle.js";
import { at } from "../helpers/kit.js";

let counter = 0;
function users<const Names extends readonly string[]>(...names: Names): { [K in keyof Names]: string } {
  counter++;
  return names.map((n) => `${n}L${counter}`) as { [K in keyof Names]: string };
}

function text(from: string, to: string, body: string): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId: null };
}

export function runLifecycleContract(
  name: string,
  makeStore: (opts: { maxEvents: number }) => Promise<Store>,
): void {
  describe(`lifecycle contract: ${name}`, () => {
    let store: Store;
    let lc: LifecycleStore;
    before(async () => {
      store = await makeStore({ maxEvents: 200 });
      lc = await lifecycleOf(store);
    });
    after(async () => {
      await store.close();
    });

    const edit = (user: string, id: string, value: string, now = Date.now()) =>
      lc.updateMessage(user, id, (m) => editRule(m, user, value, now, DEFAULT_LIMITS));
    const unsend = (user: string, id: string) =>
      lc.updateMessage(user, id, (m) => unsendRule(m, user, Date.now(), DEFAULT_LIMITS));
    const react = (user: string, id: string, emoji: string, on: boolean) =>
      lc.updateMessage(user, id, (m) => reactionRule(m, user, emoji, on, DEFAULT_LIMITS));
    const rejects = async (p: Promise<unknown>, code: string) => {
      await assert.rejects(p, (err: unknown) => err instanceof DuetError && err.code === code);
    };
    const checkJson = (events: { event: unknown; json?: string }[]) => {
      for (const e of events) if (e.json !== undefined) assert.equal(e.json, JSON.stringify(e.event));
    };

    it("edits a text message: editedAt, both sides' edit events, history and replay show the new text", async () => {
      const [a, b] = users("alice", "bob");
      const sent = await store.send(text(a, b, "helo"));
      const id = sent.message.id;
      const r = await edit(a, id, "hello");
      assert.ok(r);
      assert.equal(r.peer, b);
      assert.equal(r.message.text, "hello");
      assert.equal(typeof r.message.editedAt, "number");
      assert.deepEqual(
        r.events.map((e) => [e.user, e.event.type, e.event.seq]),
        [
          [a, "edit", 2],
          [b, "edit", 2],
        ],
      );
      checkJson(r.events);
      const event = at(r.events, 1).event;
      assert.equal(event.type === "edit" && event.message.text, "hello");
      const history = await store.history(b, a, { limit: 10 });
      assert.equal(at(history.messages, 0).text, "hello");
      assert.equal(at(history.messages, 0).editedAt, r.message.editedAt);
      const page = await store.eventsSince(b, 0, 10);
      assert.deepEqual(
        page.events.map((e) => e.type),
        ["message", "edit"],
      );
      const replayed = at(page.events, 1);
      assert.equal(replayed.type === "edit" && replayed.message.text, "hello");
      // The same text again (a retry) changes nothing and appends nothing.
      const again = await edit(a, id, "hello");
      assert.deepEqual(again?.events, []);
      assert.equal(await store.head(b), 2);
      // The conversation list's last message is the current state.
      const conv = at(await store.conversations(b, 10), 0);
      assert.equal(conv.lastMessage?.text, "hello");
    });

    it("refuses an edit by the peer, of a system message, or past the window, changing nothing", async () => {
      const [a, b] = users("alice", "bob");
      const sent = await store.send(text(a, b, "original"));
      const id = sent.message.id;
      await rejects(edit(b, id, "hacked"), "forbidden");
      await rejects(
        edit(a, id, "late", sent.message.ts + DEFAULT_LIMITS.editWindowMs + 1),
        "edit_window_closed",
      );
      await rejects(
        lc.updateMessage(a, id, (m) =>
          editRule(m, a, "x", Date.now(), { ...DEFAULT_LIMITS, editWindowMs: 0 }),
        ),
        "edit_window_closed",
      );
      const sys = await store.send({ ...text(a, b, "system says"), kind: "system" });
      await rejects(edit(a, sys.message.id, "changed"), "forbidden");
      await rejects(unsend(a, sys.message.id), "forbidden");
      const history = await store.history(a, b, { limit: 10 });
      assert.deepEqual(
        history.messages.map((m) => [m.text, m.editedAt]),
        [
          ["original", undefined],
          ["system says", undefined],
        ],
      );
      assert.equal(await store.head(b), 2);
    });

    it("finds only the caller's own conversations' messages", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      const sent = await store.send(text(a, b, "private"));
      assert.equal(await edit(c, sent.message.id, "mine now"), null);
      assert.equal(await react(c, sent.message.id, "❤️", true), null);
      assert.equal(await unsend(c, "01ARZ3NDEKTSV4RRFFQ69G5FAV"), null);
      assert.equal((await store.history(a, b, { limit: 5 })).messages[0]?.text, "private");
    });

    it("unsends: a tombstone in history and lists, no unread, replay without the text, repeat is a no-op", async () => {
      const [a, b] = users("alice", "bob");
      const first = await store.send(text(a, b, "keep me"));
      const secret = await store.send(text(a, b, "secret words"));
      await react(b, secret.message.id, "😂", true);
      await edit(a, secret.message.id, "secret words, edited");
      let conv = at(await store.conversations(b, 10), 0);
      assert.equal(conv.unread, 2);
      const r = await unsend(a, secret.message.id);
      assert.ok(r);
      assert.deepEqual(Object.keys(r.message).sort(), ["deletedAt", "from", "id", "kind", "to", "ts"]);
      assert.equal(r.message.kind, "deleted");
      assert.deepEqual(
        r.events.map((e) => [e.user, e.event]),
        [
          [a, { type: "delete", seq: at(r.events, 0).event.seq, id: secret.message.id, peer: b }],
          [b, { type: "delete", seq: at(r.events, 1).event.seq, id: secret.message.id, peer: a }],
        ],
      );
      checkJson(r.events);
      const history = await store.history(b, a, { limit: 10 });
      assert.deepEqual(
        history.messages.map((m) => m.kind),
        ["text", "deleted"],
      );
      assert.deepEqual(history.messages[1], r.message);
      conv = at(await store.conversations(b, 10), 0);
      assert.equal(conv.unread, 1);
      assert.deepEqual(conv.lastMessage, r.message);
      const unread = await store.readUnread(b, a, 10, false);
      assert.deepEqual(
        unread.messages.map((m) => m.id),
        [first.message.id],
      );
      for (const user of [a, b]) {
        const page = await store.eventsSince(user, 0, 100);
        const json = JSON.stringify(page.events);
        assert.ok(!json.includes("secret words"), `${user}'s log still holds the text`);
        const replay = page.events.find((e) => e.type === "message" && e.message.id === secret.message.id);
        if (replay !== undefined) assert.equal(replay.type === "message" && replay.message.kind, "deleted");
      }
      const head = await store.head(b);
      const again = await unsend(a, secret.message.id);
      assert.deepEqual(again?.events, []);
      assert.equal(again?.message.kind, "deleted");
      assert.equal(await store.head(b), head);
      // Nothing else may be done to a tombstone; taking a reaction back is done already.
      await rejects(edit(a, secret.message.id, "back"), "conflict");
      await rejects(react(b, secret.message.id, "❤️", true), "conflict");
      assert.deepEqual((await react(b, secret.message.id, "😂", false))?.events, []);
      await rejects(unsend(b, first.message.id), "forbidden");
    });

    it("reactions: either side, idempotent, at most 8 per user, absent when none", async () => {
      const [a, b] = users("alice", "bob");
      const sent = await store.send(text(a, b, "react to me"));
      const id = sent.message.id;
      const r1 = await react(b, id, "❤️", true);
      assert.deepEqual(r1?.message.reactions, { "❤️": [b] });
      assert.deepEqual(
        r1?.events.map((e) => [e.user, e.event]),
        [
          [b, { type: "reaction", seq: 2, id, peer: a, user: b, emoji: "❤️", on: true }],
          [a, { type: "reaction", seq: 2, id, peer: b, user: b, emoji: "❤️", on: true }],
        ],
      );
      checkJson(r1?.events ?? []);
      assert.deepEqual((await react(b, id, "❤️", true))?.events, []);
      const r2 = await react(a, id, "❤️", true);
      assert.deepEqual(r2?.message.reactions, { "❤️": [b, a] });
      for (const e of ["😀", "😃", "😄", "😁", "😆", "😅", "🤣"]) await react(b, id, e, true);
      await rejects(react(b, id, "🙂", true), "too_many_reactions");
      // A taken-back reaction frees a place.
      await react(b, id, "😀", false);
      await react(b, id, "🙂", true);
      const history = await store.history(a, b, { limit: 1 });
      assert.equal(Object.keys(at(history.messages, 0).reactions ?? {}).length, 8);
      assert.deepEqual(at(history.messages, 0).reactions?.["❤️"], [b, a]);
      for (const e of Object.keys(at(history.messages, 0).reactions ?? {})) {
        await react(b, id, e, false);
        await react(a, id, e, false);
      }
      const plain = (await store.history(a, b, { limit: 1 })).messages[0];
      assert.deepEqual(plain, sent.message);
      assert.equal(JSON.stringify(plain), JSON.stringify(sent.message));
    });

    it("concurrent changes of one message all apply, each on the state the previous left", async () => {
      const [a, b] = users("alice", "bob");
      const sent = await store.send(text(a, b, "busy"));
      const id = sent.message.id;
      const emoji = ["😀", "😃", "😄", "😁"];
      await Promise.all([
        ...emoji.map((e) => react(a, id, e, true)),
        ...emoji.map((e) => react(b, id, e, true)),
        edit(a, id, "busy, edited"),
      ]);
      const m = at((await store.history(a, b, { limit: 1 })).messages, 0);
      assert.equal(m.text, "busy, edited");
      for (const e of emoji) assert.deepEqual([...(m.reactions?.[e] ?? [])].sort(), [a, b].sort());
      // Each side's log has 9 change events after the message, in one order for both.
      for (const user of [a, b]) {
        const page = await store.eventsSince(user, 1, 100);
        assert.equal(page.events.length, 9);
      }
    });

    it("delivery receipts move forward only and tell the sender once per advance", async () => {
      const [a, b] = users("alice", "bob");
      const m1 = await store.send(text(a, b, "one"));
      const m2 = await store.send(text(a, b, "two"));
      const r1 = await lc.delivered(b, a, m1.message.id, true);
      assert.equal(r1.upTo, m1.message.id);
      assert.deepEqual(
        r1.events.map((e) => [e.user, e.event]),
        [[a, { type: "delivered", seq: 3, peer: b, upTo: m1.message.id }]],
      );
      checkJson(r1.events);
      assert.deepEqual((await lc.delivered(b, a, m1.message.id, true)).events, []);
      const back = await lc.delivered(b, a, "00000000000000000000000000", true);
      assert.deepEqual(back, { upTo: m1.message.id, events: [] });
      // Off: the marker moves, nobody is told.
      const quiet = await lc.delivered(b, a, m2.message.id, false);
      assert.deepEqual(quiet, { upTo: m2.message.id, events: [] });
      await store.markRead(b, a, m1.message.id);
      assert.deepEqual(await lc.receipts(a, [b]), [
        { readUpTo: m1.message.id, deliveredUpTo: m2.message.id },
      ]);
      assert.deepEqual(await lc.receipts(b, [a]), [{ readUpTo: null, deliveredUpTo: null }]);
    });

    it("marks read quietly: the reader's devices hear of it, the peer does not", async () => {
      const [a, b] = users("alice", "bob");
      const m = await store.send(text(a, b, "read me"));
      const r = await lc.markReadQuietly(b, a, m.message.id);
      assert.equal(r.upTo, m.message.id);
      assert.deepEqual(
        r.events.map((e) => [e.user, e.event]),
        [[b, { type: "read", seq: 2, peer: a, reader: b, upTo: m.message.id }]],
      );
      assert.equal(await store.head(a), 1);
      assert.equal((await store.conversations(b, 10))[0]?.unread, 0);
      assert.deepEqual((await lc.markReadQuietly(b, a, m.message.id)).events, []);
    });

    it("keeps settings (defaults true) and mutes", async () => {
      const [a, b, c] = users("alice", "bob", "carol");
      assert.deepEqual(await lc.settings([a, b]), [DEFAULT_SETTINGS, DEFAULT_SETTINGS]);
      const s = await lc.updateSettings(a, { readReceipts: false, typing: false });
      assert.deepEqual(s, { ...DEFAULT_SETTINGS, readReceipts: false, typing: false });
      assert.deepEqual(await lc.updateSettings(a, { typing: true }), {
        ...DEFAULT_SETTINGS,
        readReceipts: false,
      });
      assert.deepEqual(await lc.settings([b]), [DEFAULT_SETTINGS]);
      await lc.mute(a, b, null);
      await lc.mute(a, c, 4_000_000_000_000);
      assert.deepEqual(
        await lc.mutes(a),
        new Map<string, number | null>([
          [b, null],
          [c, 4_000_000_000_000],
        ]),
      );
      await lc.unmute(a, b);
      assert.deepEqual([...(await lc.mutes(a)).keys()], [c]);
      assert.equal((await lc.mutes(b)).size, 0);
    });

    it("a caption can be edited; an image keeps its image", async () => {
      const [a, b] = users("alice", "bob");
      const sent = await store.send({
        ...text(a, b, "cap"),
        kind: "image",
        image: { url: "https://example.com/a.png" },
      });
      const r = await edit(a, sent.message.id, "caption");
      const m = r?.message as Message;
      assert.equal(m.text, "caption");
      assert.deepEqual(m.image, { url: "https://example.com/a.png" });
    });
  });
}
