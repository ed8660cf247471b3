/**
 * The SDK's local view (src/client/message-view.ts) on its own: event sequences applied in order,
 * twice (a replay after a resume), backwards and shuffled must all end in the same state; history
 * answers that arrive before or after the stream's events merge without undoing them.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConversationView, type ViewChange, type ViewMessage } from "../../src/client/message-view.js";
import type { ConversationSummary, Message, StoredEvent } from "../../src/core/types.js";

const ME = "alice";
const PEER = "bob";

function msg(id: string, from: string, text: string, extra: Partial<Message> = {}): Message {
  return {
    id,
    from,
    to: from === ME ? PEER : ME,
    ts: 1_000 + Number(id.slice(-2)),
    kind: "text",
    text,
    image: null,
    links: [],
    clientMsgId: null,
    ...extra,
  };
}

/** The state an app would render: everything that matters, nothing incidental. */
function snapshot(view: ConversationView): unknown {
  return {
    messages: view.messages.map((m: ViewMessage) => ({
      id: m.id,
      kind: m.kind,
      text: m.text,
      editedAt: m.editedAt,
      reactions: m.reactions,
      tick: m.tick,
      mine: m.mine,
    })),
    read: view.peerReadUpTo,
    delivered: view.peerDeliveredUpTo,
    myRead: view.readUpTo,
  };
}

const M1 = msg("M01", ME, "helo");
const M2 = msg("M02", PEER, "hi alice");
const M3 = msg("M03", ME, "how are you");
const M4 = msg("M04", ME, "wrong person");

/** A conversation's whole story, as alice's stream carries it. */
const EVENTS: StoredEvent[] = [
  { type: "message", seq: 1, message: M1 },
  { type: "message", seq: 2, message: M2 },
  { type: "delivered", seq: 3, peer: PEER, upTo: "M01" },
  { type: "edit", seq: 4, message: { ...M1, text: "hello", editedAt: 5_000 } },
  { type: "reaction", seq: 5, id: "M02", peer: PEER, user: ME, emoji: "❤️", on: true },
  { type: "reaction", seq: 6, id: "M01", peer: PEER, user: PEER, emoji: "👍", on: true },
  { type: "reaction", seq: 7, id: "M01", peer: PEER, user: PEER, emoji: "😂", on: true },
  { type: "reaction", seq: 8, id: "M01", peer: PEER, user: PEER, emoji: "👍", on: false },
  { type: "message", seq: 9, message: M3 },
  { type: "read", seq: 10, peer: PEER, reader: ME, upTo: "M02" },
  { type: "message", seq: 11, message: M4 },
  { type: "delete", seq: 12, id: "M04", peer: PEER },
  { type: "reaction", seq: 13, id: "M01", peer: PEER, user: ME, emoji: "😂", on: true },
  { type: "delivered", seq: 14, peer: PEER, upTo: "M03" },
  { type: "read", seq: 15, peer: PEER, reader: PEER, upTo: "M01" },
];

const EXPECTED = {
  messages: [
    {
      id: "M01",
      kind: "text",
      text: "hello",
      editedAt: 5_000,
      reactions: { "😂": [PEER, ME] },
      tick: "read",
      mine: true,
    },
    {
      id: "M02",
      kind: "text",
      text: "hi alice",
      editedAt: undefined,
      reactions: { "❤️": [ME] },
      tick: null,
      mine: false,
    },
    {
      id: "M03",
      kind: "text",
      text: "how are you",
      editedAt: undefined,
      reactions: undefined,
      tick: "delivered",
      mine: true,
    },
    {
      id: "M04",
      kind: "deleted",
      text: null,
      editedAt: undefined,
      reactions: undefined,
      tick: "sent",
      mine: true,
    },
  ],
  read: "M01",
  delivered: "M03",
  myRead: "M02",
};

function applied(events: StoredEvent[]): ConversationView {
  const view = new ConversationView(PEER);
  for (const e of events) view.apply(e);
  return view;
}

/** A deterministic shuffle (a small LCG), so a failure can be replayed. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

test("events in seq order give each message its current state and tick", () => {
  assert.deepEqual(snapshot(applied(EVENTS)), EXPECTED);
});

test("a replay (every event twice, or a resume from an old cursor) changes nothing", () => {
  const view = applied(EVENTS);
  const changes: ViewChange[] = [];
  view.on("change", (c) => changes.push(c));
  for (const e of EVENTS) view.apply(e);
  assert.deepEqual(snapshot(view), EXPECTED);
  assert.deepEqual(changes, [], "a replayed event announces no change");
  // Each event applied twice in a row, from the start.
  assert.deepEqual(snapshot(applied(EVENTS.flatMap((e) => [e, e]))), EXPECTED);
  // A resume from the middle: the second half comes again after the whole.
  assert.deepEqual(snapshot(applied([...EVENTS, ...EVENTS.slice(7)])), EXPECTED);
});

test("out of order: reversed and shuffled sequences end in the same state", () => {
  assert.deepEqual(snapshot(applied([...EVENTS].reverse())), EXPECTED);
  for (const seed of [1, 7, 42, 1234, 99_999]) {
    assert.deepEqual(snapshot(applied(shuffled(EVENTS, seed))), EXPECTED, `shuffle seed ${seed}`);
  }
});

test("a reaction taken back, then a late copy of putting it: still taken back", () => {
  const view = new ConversationView(PEER);
  view.apply({ type: "message", seq: 1, message: M1 });
  view.apply({ type: "reaction", seq: 3, id: "M01", peer: PEER, user: PEER, emoji: "👍", on: false });
  view.apply({ type: "reaction", seq: 2, id: "M01", peer: PEER, user: PEER, emoji: "👍", on: true });
  assert.equal(view.message("M01")?.reactions, undefined);
});

test("events about a message not seen yet wait for it; an unsend ends it for good", () => {
  const view = new ConversationView(PEER);
  view.apply({ type: "delete", seq: 5, id: "M04", peer: PEER });
  view.apply({ type: "reaction", seq: 4, id: "M03", peer: PEER, user: PEER, emoji: "🔥", on: true });
  assert.deepEqual(view.messages, [], "nothing to show before the messages themselves");
  view.seedMessages([M3, M4]);
  assert.deepEqual(view.message("M03")?.reactions, { "🔥": [PEER] });
  assert.equal(view.message("M04")?.kind, "deleted");
  assert.equal(view.message("M04")?.text, null);
  // A late edit or reaction cannot bring an unsent message back.
  view.apply({ type: "edit", seq: 3, message: { ...M4, text: "edited", editedAt: 9_000 } });
  view.apply({ type: "reaction", seq: 6, id: "M04", peer: PEER, user: PEER, emoji: "🔥", on: true });
  assert.equal(view.message("M04")?.kind, "deleted");
  assert.equal(view.message("M04")?.reactions, undefined);
});

test("history answers merge with the stream in either order", () => {
  const edited = { ...M1, text: "hello", editedAt: 5_000, reactions: { "👍": [PEER] } };
  // The stream first, then a stale history page (fetched before the edit): the edit stays.
  const a = new ConversationView(PEER);
  a.apply({ type: "message", seq: 1, message: M1 });
  a.apply({ type: "edit", seq: 2, message: { ...M1, text: "hello", editedAt: 5_000 } });
  a.apply({ type: "reaction", seq: 3, id: "M01", peer: PEER, user: PEER, emoji: "👍", on: true });
  a.seedMessages([M1]);
  assert.equal(a.message("M01")?.text, "hello");
  assert.deepEqual(a.message("M01")?.reactions, { "👍": [PEER] });
  // History first (already edited and reacted to), then the older events arrive: no regression.
  const b = new ConversationView(PEER);
  b.seedMessages([edited]);
  b.apply({ type: "message", seq: 1, message: M1 });
  b.apply({ type: "edit", seq: 2, message: { ...M1, text: "hello", editedAt: 5_000 } });
  b.apply({ type: "reaction", seq: 3, id: "M01", peer: PEER, user: PEER, emoji: "👍", on: true });
  assert.equal(b.message("M01")?.text, "hello");
  assert.deepEqual(b.message("M01")?.reactions, { "👍": [PEER] });
  // A tombstone from history wins over anything.
  b.seedMessages([
    { id: "M01", from: ME, to: PEER, ts: 1_001, kind: "deleted", deletedAt: 7_000 } as Message,
  ]);
  assert.equal(b.message("M01")?.kind, "deleted");
  assert.equal(b.message("M01")?.deletedAt, 7_000);
});

test("ticks come from the conversation list's markers and only move forward", () => {
  const view = new ConversationView(PEER);
  view.seedMessages([M1, M2, M3, M4]);
  assert.deepEqual(
    view.messages.map((m) => m.tick),
    ["sent", null, "sent", "sent"],
  );
  const summary: ConversationSummary = {
    peer: PEER,
    unread: 0,
    lastMessage: M4,
    updatedAt: 1,
    ttl: 0,
    peerReadUpTo: "M01",
    peerDeliveredUpTo: "M03",
  };
  const changes: ViewChange[] = [];
  view.on("change", (c) => changes.push(c));
  view.seedSummary(summary);
  assert.deepEqual(
    view.messages.map((m) => m.tick),
    ["read", null, "delivered", "sent"],
  );
  assert.deepEqual(changes, [{ peer: PEER, ids: ["M01", "M03"] }], "the messages whose tick changed");
  // An older answer (markers behind, or null: receipts turned off since) takes nothing back.
  view.seedSummary({ ...summary, peerReadUpTo: null, peerDeliveredUpTo: "M01" });
  view.apply({ type: "delivered", seq: 2, peer: PEER, upTo: "M01" });
  assert.deepEqual(
    view.messages.map((m) => m.tick),
    ["read", null, "delivered", "sent"],
  );
  // A read beyond the delivered marker: read implies delivered.
  view.apply({ type: "read", seq: 9, peer: PEER, reader: PEER, upTo: "M04" });
  assert.deepEqual(
    view.messages.map((m) => m.tick),
    ["read", null, "read", "read"],
  );
  assert.equal(view.peerDeliveredUpTo, "M04");
});

test("one change per batch: a history page announces once, with every id", () => {
  const view = new ConversationView(PEER);
  const changes: ViewChange[] = [];
  view.on("change", (c) => changes.push(c));
  view.seedMessages([M3, M1, M2]);
  assert.deepEqual(changes, [{ peer: PEER, ids: ["M03", "M01", "M02"] }]);
  assert.deepEqual(
    view.messages.map((m) => m.id),
    ["M01", "M02", "M03"],
    "kept in id order",
  );
  view.seedMessages([M1, M2]);
  assert.equal(changes.length, 1, "the same messages again: no change");
});

/** Resolves once `check` holds, polling; fails after a generous bound (no timing asserted). */
async function eventually(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("SPEC 15: a message turns into its tombstone at expiresAt by itself, announced by a change", async () => {
  const view = new ConversationView(PEER);
  const changes: ViewChange[] = [];
  view.on("change", (c) => changes.push(c));
  const now = Date.now();
  const soon = msg("M01", PEER, "gone soon", { expiresAt: now + 100 });
  const later = msg("M02", ME, "gone later", { expiresAt: now + 250 });
  const kept = msg("M03", PEER, "kept");
  const unsent = msg("M04", ME, "unsent first", { expiresAt: now + 150 });
  view.seedMessages([soon, later, kept, unsent]);
  view.apply({ type: "delete", seq: 3, id: "M04", peer: PEER });
  assert.deepEqual(
    view.messages.map((m) => m.kind),
    ["text", "text", "text", "deleted"],
  );
  const unsentAt = view.message("M04")?.deletedAt;
  await eventually("both expiries", () => view.messages.filter((m) => m.kind === "deleted").length === 3);
  const [first, second, third] = view.messages;
  assert.deepEqual(first, {
    id: "M01",
    from: PEER,
    to: ME,
    ts: soon.ts,
    kind: "deleted",
    text: null,
    image: null,
    links: [],
    clientMsgId: null,
    deletedAt: soon.expiresAt,
    mine: false,
    tick: null,
  });
  assert.equal(second?.kind, "deleted");
  assert.equal(second?.deletedAt, later.expiresAt);
  assert.equal(third?.kind, "text", "a message without expiresAt stays");
  assert.equal(view.message("M04")?.deletedAt, unsentAt, "an unsent message is not touched again");
  // Each expiry was announced with its id; the unsent one was not announced again.
  const announced = changes.flatMap((c) => c.ids);
  assert.ok(announced.includes("M01") && announced.includes("M02"));
  assert.equal(announced.filter((id) => id === "M04").length, 2, "its seed and its unsend only");
  // A replayed whole message (a resume) does not bring the expired text back.
  view.apply({ type: "message", seq: 1, message: soon });
  assert.equal(view.message("M01")?.kind, "deleted");
  view.close();
});

test("SPEC 15: a message already past expiresAt is shown as its tombstone at once", () => {
  const view = new ConversationView(PEER);
  const past = msg("M01", PEER, "too late", { expiresAt: Date.now() - 1_000 });
  view.seedMessages([past]);
  assert.equal(view.message("M01")?.kind, "deleted");
  assert.equal(view.message("M01")?.text, null);
  assert.equal(view.message("M01")?.deletedAt, past.expiresAt);
  view.close();
});

test("SPEC 15: a closed view's timer is gone (its messages stay as they were)", async () => {
  const view = new ConversationView(PEER);
  view.seedMessages([msg("M01", PEER, "timer stopped", { expiresAt: Date.now() + 50 })]);
  view.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(view.message("M01")?.kind, "text");
});

test("SPEC 15: the view's ttl comes from the conversation list, then from ttl events (newest seq wins)", () => {
  const view = new ConversationView(PEER);
  const changes: ViewChange[] = [];
  view.on("change", (c) => changes.push(c));
  assert.equal(view.ttl, 0);
  view.seedSummary({ peer: PEER, unread: 0, lastMessage: null, updatedAt: 1, ttl: 3600 });
  assert.equal(view.ttl, 3600);
  assert.deepEqual(changes, [{ peer: PEER, ids: [] }]);
  view.apply({ type: "ttl", seq: 7, peer: PEER, seconds: 60 });
  assert.equal(view.ttl, 60);
  view.apply({ type: "ttl", seq: 5, peer: PEER, seconds: 600 });
  assert.equal(view.ttl, 60, "an older event, late, changes nothing");
  view.seedSummary({ peer: PEER, unread: 0, lastMessage: null, updatedAt: 1, ttl: 3600 });
  assert.equal(view.ttl, 60, "a list read of unknown time does not undo an event");
  view.apply({ type: "ttl", seq: 9, peer: PEER, seconds: 0 });
  assert.equal(view.ttl, 0);
  view.clear();
  view.seedSummary({ peer: PEER, unread: 0, lastMessage: null, updatedAt: 1, ttl: 120 });
  assert.equal(view.ttl, 120, "after a reset the list seeds it again");
});
