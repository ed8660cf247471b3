/**
 * Issue 2, item 2: the chat core without HTTP. Chat runs on a real (in-memory) SQLite store, a
 * real Hub and local broker/presence; connections are recording listeners.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Chat, type ChatObserver } from "../../src/core/chat.js";
import { DuetError, type ErrorCode } from "../../src/core/errors.js";
import { Hub, type Listener } from "../../src/core/hub.js";
import { LocalBroker } from "../../src/core/local-broker.js";
import { LocalPresence } from "../../src/core/local-presence.js";
import type { Sink, TransportKind } from "../../src/core/ports/sink.js";
import type { Message, SendInput } from "../../src/core/types.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { at, sleep } from "../helpers/kit.js";

/** A connection that records what reaches it. */
class Recorder implements Listener {
  readonly events: { json: Record<string, unknown>; seq: number | null }[] = [];
  closedWith: ErrorCode | null = null;
  readonly sink: Sink;
  constructor(
    readonly user: string,
    kind: TransportKind = "stream",
  ) {
    this.sink = {
      kind,
      write: () => {},
      close: (reason) => {
        this.closedWith = reason;
      },
    };
  }
  push(json: string, seq: number | null): void {
    this.events.push({ json: JSON.parse(json) as Record<string, unknown>, seq });
  }
  resync(): void {}

  stop(): void {
    hub.detach(this);
  }
}

let store: SqliteStore;
let hub: Hub;
let presence: LocalPresence;
let chat: Chat;
const observed: { stored: string[]; latency: string[] } = { stored: [], latency: [] };

function make(options = { sendRate: 1000, sendBurst: 1000 }): void {
  store = new SqliteStore({ path: ":memory:", retention: { maxEvents: 1000, maxAgeMs: 86_400_000 } });
  presence = new LocalPresence();
  hub = new Hub(new LocalBroker(), presence, { maxConnectionsPerUser: 5, heartbeatMs: {} });
  const observer: ChatObserver = {
    messageStored: (kind) => observed.stored.push(kind),
    storeLatency: (op) => observed.latency.push(op),
  };
  chat = new Chat(store, hub, presence, options, observer);
  observed.stored = [];
  observed.latency = [];
}

function text(from: string, to: string, body: string, clientMsgId: string | null = null): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId };
}

async function rejects(promise: Promise<unknown>, code: ErrorCode): Promise<DuetError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DuetError, String(err));
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected ${code}`);
}

beforeEach(() => make());
afterEach(async () => {
  chat.close();
  hub.close();
  await store.close();
});

describe("Chat", () => {
  it("send stores the message and pushes its event to both users' connections", async () => {
    const alice = new Recorder("alice");
    const bob = new Recorder("bob");
    const bob2 = new Recorder("bob", "ws");
    for (const r of [alice, bob, bob2]) hub.attach(r);
    const { message, duplicate } = await chat.send(text("alice", "bob", "hi"));
    assert.equal(duplicate, false);
    for (const r of [alice, bob, bob2]) {
      assert.deepEqual(r.events, [{ json: { type: "message", seq: 1, message }, seq: 1 }]);
    }
    assert.deepEqual(observed.stored, ["text"]);
    assert.ok(observed.latency.includes("send"));
    const history = await chat.history("bob", "alice", { limit: 10 });
    assert.deepEqual(history, { messages: [message], hasMore: false });
  });

  it("a repeated clientMsgId returns the original and publishes nothing", async () => {
    const bob = new Recorder("bob");
    hub.attach(bob);
    const first = await chat.send(text("alice", "bob", "once", "c1"));
    const again = await chat.send(text("alice", "bob", "different", "c1"));
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.message, first.message);
    assert.equal(bob.events.length, 1);
    assert.deepEqual(observed.stored, ["text"]);
    assert.equal(await store.countMessages(), 1);
  });

  it("rate limits each sender, with retryAfter, and not system messages", async () => {
    chat.close();
    hub.close();
    await store.close();
    make({ sendRate: 1, sendBurst: 2 });
    await chat.send(text("alice", "bob", "1"));
    await chat.send(text("alice", "bob", "2"));
    const err = await rejects(chat.send(text("alice", "bob", "3")), "rate_limited");
    assert.equal(err.retryAfter, 1);
    await chat.send(text("carol", "bob", "carol has her own bucket"));
    for (let i = 0; i < 5; i++)
      await chat.sendSystem({ ...text("system", "alice", `s${i}`), kind: "system" });
    assert.equal(await store.countMessages(), 8);
  });

  it("blocks stop sends and typing to the blocker, not system messages; presence hides the blocker", async () => {
    await chat.block("bob", "alice");
    assert.deepEqual(await chat.blocks("bob"), ["alice"]);
    await rejects(chat.send(text("alice", "bob", "hi")), "blocked");
    await rejects(chat.typing("alice", "bob"), "blocked");
    await chat.sendSystem({ ...text("alice", "bob", "you matched"), kind: "system" });
    // Bob may still write to alice.
    await chat.send(text("bob", "alice", "no"));
    const bobConn = new Recorder("bob");
    hub.attach(bobConn);
    assert.deepEqual(await chat.presenceFor("alice", ["bob"]), { bob: { online: false } });
    assert.deepEqual(await chat.presenceFor("carol", ["bob"]), { bob: { online: true } });
    await rejects(chat.block("bob", "bob"), "invalid_input");
    await chat.unblock("bob", "alice");
    assert.deepEqual(await chat.blocks("bob"), []);
    await chat.send(text("alice", "bob", "hi again"));
    assert.deepEqual(await chat.presenceFor("alice", ["bob"]), { bob: { online: true } });
  });

  it("typing reaches the peer's connections only, unstored and without seq", async () => {
    const bob = new Recorder("bob");
    hub.attach(bob);
    await chat.typing("alice", "bob");
    assert.deepEqual(bob.events, [{ json: { type: "typing", from: "alice" }, seq: null }]);
    assert.equal(await store.head("bob"), 0);
    await rejects(chat.typing("alice", "alice"), "self_message");
  });

  it("readUnread returns the oldest unread and marks exactly those; markRead tells both sides", async () => {
    const sent: Message[] = [];
    for (let i = 0; i < 5; i++) sent.push((await chat.send(text("bob", "alice", `m${i}`))).message);
    await chat.send(text("alice", "bob", "mine"));
    const bob = new Recorder("bob");
    const alice = new Recorder("alice");
    hub.attach(bob);
    hub.attach(alice);

    assert.deepEqual(await chat.readUnread("alice", "bob", 2, false), sent.slice(0, 2));
    assert.equal(bob.events.length, 0);
    assert.deepEqual(await chat.readUnread("alice", "bob", 2, true), sent.slice(0, 2));
    const unread = async () => (await chat.conversations("alice", 10))[0]?.unread;
    assert.equal(await unread(), 3);
    assert.deepEqual(
      bob.events.map((e) => [e.json.type, e.json.peer, e.json.reader, e.json.upTo]),
      [["read", "alice", "alice", at(sent, 1).id]],
    );
    assert.deepEqual(
      alice.events.map((e) => [e.json.type, e.json.peer, e.json.reader, e.json.upTo]),
      [["read", "bob", "alice", at(sent, 1).id]],
    );

    assert.deepEqual(await chat.markRead("alice", "bob", at(sent, 3).id), { upTo: at(sent, 3).id });
    assert.equal(await unread(), 1);
    // Backwards is a no-op and publishes nothing.
    const before = bob.events.length;
    assert.deepEqual(await chat.markRead("alice", "bob", at(sent, 0).id), { upTo: at(sent, 3).id });
    assert.equal(bob.events.length, before);
    assert.deepEqual(await chat.readUnread("alice", "bob", 20, true), [sent[4]]);
    assert.equal(await unread(), 0);
    // Nothing was deleted.
    assert.equal((await chat.history("alice", "bob", { limit: 50 })).messages.length, 6);
  });

  it("conversations list peers by latest activity with unread counts", async () => {
    // Activity is ordered by ms timestamps: let the clock move between the two conversations.
    const first = await chat.send(text("bob", "alice", "b"));
    while (Date.now() <= first.message.ts) await sleep(1);
    await chat.send(text("carol", "alice", "c1"));
    const last = await chat.send(text("carol", "alice", "c2"));
    const list = await chat.conversations("alice", 10);
    assert.deepEqual(
      list.map((c) => [c.peer, c.unread]),
      [
        ["carol", 2],
        ["bob", 1],
      ],
    );
    assert.deepEqual(at(list, 0).lastMessage, last.message);
    assert.equal((await chat.conversations("alice", 1)).length, 1);
  });

  it("disconnect closes every connection of the user with `disconnected`", () => {
    const a1 = new Recorder("alice");
    const a2 = new Recorder("alice", "ws");
    const b = new Recorder("bob");
    for (const r of [a1, a2, b]) hub.attach(r);
    chat.disconnect("alice");
    assert.equal(a1.closedWith, "disconnected");
    assert.equal(a2.closedWith, "disconnected");
    assert.equal(b.closedWith, null);
    assert.deepEqual(hub.connectionsByTransport(), { ws: 0, sse: 0, stream: 1, poll: 0 });
  });

  it("each user's event log has contiguous seqs over messages and reads", async () => {
    const m1 = await chat.send(text("alice", "bob", "1"));
    await chat.send(text("bob", "alice", "2"));
    await chat.send(text("carol", "bob", "3"));
    await chat.markRead("bob", "alice", m1.message.id);
    const page = await store.eventsSince("bob", 0, 100);
    assert.deepEqual(
      page.events.map((e) => [e.seq, e.type]),
      [
        [1, "message"],
        [2, "message"],
        [3, "message"],
        [4, "read"],
      ],
    );
    assert.equal(page.head, 4);
    assert.equal(await store.head("alice"), 3);
    assert.equal(await store.head("carol"), 1);
  });
});
