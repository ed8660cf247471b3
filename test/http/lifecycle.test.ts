/** SPEC 13 over HTTP and the WebSocket: edit, unsend, reactions, receipts, settings, mute; hostile input. */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import type { ConversationSummary, Message } from "../../src/core/types.js";
import { API_KEY, startDuet, type TestServer } from "../helpers/duet.js";
import { at, sleep } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { client, expectError, names, openStream } from "./util.js";

let server: TestServer;
let base: string;

before(async () => {
  server = await startDuet({ DUET_SEND_RATE: "100000", DUET_SEND_BURST: "100000" });
  base = server.url;
});
after(async () => {
  await server.close();
});

const isType = (type: string) => (e: Record<string, unknown>) => e.type === type;

describe("edit and unsend", () => {
  it("edits (both sides get the edit event) and unsends (both get delete; history keeps a tombstone)", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const bobEvents = await openStream(base, bob.token);
    const m = await alice.send(b, "helo");
    const edited = await alice.call("PATCH", `/v1/messages/${m.id}`, { text: "hello" });
    assert.equal(edited.status, 200);
    const message = edited.body.message as Message;
    assert.equal(message.text, "hello");
    assert.equal(typeof message.editedAt, "number");
    const editEvent = await bobEvents.next(isType("edit"));
    assert.deepEqual((editEvent.message as Message).text, "hello");
    const gone = await alice.call("DELETE", `/v1/messages/${m.id}`);
    assert.equal(gone.status, 200);
    const tombstone = gone.body.message as Message;
    assert.deepEqual(tombstone, {
      id: m.id,
      from: a,
      to: b,
      ts: m.ts,
      kind: "deleted",
      deletedAt: tombstone.deletedAt,
    });
    const del = await bobEvents.next(isType("delete"));
    assert.deepEqual({ ...del, seq: 0 }, { type: "delete", seq: 0, id: m.id, peer: a });
    // Repeating is 200 with the same tombstone.
    const again = await alice.call("DELETE", `/v1/messages/${m.id}`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.message, tombstone);
    const history = await bob.call("GET", `/v1/conversations/${a}/messages`);
    assert.deepEqual(
      (history.body.messages as Message[]).map((x) => x.kind),
      ["deleted"],
    );
    const convs = (await bob.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[];
    assert.equal(at(convs, 0).unread, 0);
    bobEvents.close();
  });

  it("refuses what SPEC 13 forbids, with clear 4xx and nothing changed", async () => {
    const [a, b, c] = names("alice", "bob", "carol");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const carol = await client(base, c);
    const m = await alice.send(b, "mine");
    expectError(await bob.call("PATCH", `/v1/messages/${m.id}`, { text: "yours" }), 403, "forbidden");
    expectError(await bob.call("DELETE", `/v1/messages/${m.id}`), 403, "forbidden");
    expectError(await carol.call("PATCH", `/v1/messages/${m.id}`, { text: "x" }), 404, "not_found");
    expectError(await carol.call("PUT", `/v1/messages/${m.id}/reactions/${encodeURIComponent("❤️")}`), 404);
    expectError(await alice.call("PATCH", "/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", { text: "x" }), 404);
    expectError(await alice.call("PATCH", "/v1/messages/..%2F..%2Fetc", { text: "x" }), 400, "invalid_input");
    expectError(await alice.call("PATCH", `/v1/messages/${m.id}`, { text: "" }), 400, "invalid_input");
    expectError(await alice.call("PATCH", `/v1/messages/${m.id}`, { text: "x".repeat(5000) }), 400);
    expectError(await alice.call("PATCH", `/v1/messages/${m.id}`, { text: "ok", kind: "system" }), 400);
    expectError(await alice.call("PATCH", `/v1/messages/${m.id}`, { text: 5 }), 400);
    for (const bad of ["a", "abc", "1", " ", "❤️❤️", "❤️a", "\u0000", "x".repeat(10_000), "%ZZ"]) {
      const r = await bob.call(
        "PUT",
        `/v1/messages/${m.id}/reactions/${bad === "%ZZ" ? bad : encodeURIComponent(bad)}`,
      );
      expectError(r, 400, "invalid_input");
    }
    const history = await alice.call("GET", `/v1/conversations/${b}/messages`);
    assert.deepEqual(history.body.messages, [m]);
    const sys = await fetch(`${base}/v1/admin/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ to: b, from: a, text: "system" }),
    });
    const sysBody = (await sys.json()) as { message: Message };
    assert.equal(sys.status, 201, JSON.stringify(sysBody));
    const sysMessage = sysBody.message;
    expectError(await alice.call("PATCH", `/v1/messages/${sysMessage.id}`, { text: "x" }), 403, "forbidden");
  });

  it("closes the edit window: 409 edit_window_closed", async () => {
    const off = await startDuet({ DUET_EDIT_WINDOW_S: "0", DUET_UNSEND_WINDOW_S: "1" });
    try {
      const [a, b] = names("alice", "bob");
      const alice = await client(off.url, a);
      const m = await alice.send(b, "fixed");
      expectError(
        await alice.call("PATCH", `/v1/messages/${m.id}`, { text: "x" }),
        409,
        "edit_window_closed",
      );
      await sleep(1100);
      expectError(await alice.call("DELETE", `/v1/messages/${m.id}`), 409, "unsend_window_closed");
    } finally {
      await off.close();
    }
  });
});

describe("reactions", () => {
  it("either side reacts; idempotent; at most 8 per user; events reach both", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const aliceEvents = await openStream(base, alice.token);
    const m = await alice.send(b, "react");
    const heart = encodeURIComponent("❤️");
    const r = await bob.call("PUT", `/v1/messages/${m.id}/reactions/${heart}`);
    assert.equal(r.status, 200);
    assert.deepEqual((r.body.message as Message).reactions, { "❤️": [b] });
    const event = await aliceEvents.next(isType("reaction"));
    assert.deepEqual(
      { ...event, seq: 0 },
      { type: "reaction", seq: 0, id: m.id, peer: b, user: b, emoji: "❤️", on: true },
    );
    assert.equal((await bob.call("PUT", `/v1/messages/${m.id}/reactions/${heart}`)).status, 200);
    const emoji = ["😀", "😃", "😄", "😁", "😆", "😅", "🤣"];
    for (const e of emoji) await bob.call("PUT", `/v1/messages/${m.id}/reactions/${encodeURIComponent(e)}`);
    expectError(
      await bob.call("PUT", `/v1/messages/${m.id}/reactions/${encodeURIComponent("🙂")}`),
      409,
      "too_many_reactions",
    );
    const off = await bob.call("DELETE", `/v1/messages/${m.id}/reactions/${heart}`);
    assert.equal((off.body.message as Message).reactions?.["❤️"], undefined);
    aliceEvents.close();
  });
});

describe("receipts, settings, mute", () => {
  it("delivered over HTTP and WebSocket; conversations carry peerReadUpTo/peerDeliveredUpTo and muted", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const aliceEvents = await openStream(base, alice.token);
    const m1 = await alice.send(b, "one");
    const m2 = await alice.send(b, "two");
    const d = await bob.call("POST", `/v1/conversations/${a}/delivered`, { upTo: m1.id });
    assert.deepEqual(d.body, { upTo: m1.id });
    const ev = await aliceEvents.next(isType("delivered"));
    assert.deepEqual({ ...ev, seq: 0 }, { type: "delivered", seq: 0, peer: b, upTo: m1.id });
    const ws = new WebSocket(`${base.replace("http", "ws")}/v1/ws?token=${bob.token}`);
    const frames: Record<string, unknown>[] = [];
    ws.on("message", (data) => frames.push(JSON.parse(data.toString())));
    await new Promise((r) => ws.once("open", r));
    ws.send(JSON.stringify({ op: "delivered", ref: "d1", peer: a, upTo: m2.id }));
    ws.send(JSON.stringify({ op: "delivered", ref: "d2", peer: a, upTo: "nope" }));
    const deadline = Date.now() + 5000;
    while (frames.filter((f) => f.ref !== undefined).length < 2 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(
      frames.find((f) => f.ref === "d1"),
      { op: "result", ref: "d1", upTo: m2.id },
    );
    const refused = frames.find((f) => f.ref === "d2") as { error: { code: string } } | undefined;
    assert.equal(refused?.error.code, "invalid_input");
    ws.close();
    assert.equal((await aliceEvents.next(isType("delivered"))).upTo, m2.id);
    await bob.call("POST", `/v1/conversations/${a}/read`, { upTo: m1.id });
    assert.equal((await aliceEvents.next(isType("read"))).upTo, m1.id);
    let conv = at(
      (await alice.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[],
      0,
    );
    assert.equal(conv.peerReadUpTo, m1.id);
    assert.equal(conv.peerDeliveredUpTo, m2.id);
    assert.equal(conv.muted, false);
    // Bob turns both receipts off: alice's list shows null, and further reads tell her nothing.
    const s = await bob.call("PATCH", "/v1/settings", { readReceipts: false, deliveryReceipts: false });
    assert.deepEqual(s.body.settings, {
      readReceipts: false,
      deliveryReceipts: false,
      typing: true,
      presence: true,
      notifications: true,
    });
    conv = at((await alice.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[], 0);
    assert.equal(conv.peerReadUpTo, null);
    assert.equal(conv.peerDeliveredUpTo, null);
    const m3 = await alice.send(b, "three");
    await bob.call("POST", `/v1/conversations/${a}/delivered`, { upTo: m3.id });
    await bob.call("POST", `/v1/conversations/${a}/read`, { upTo: m3.id });
    const marker = await alice.send(b, "marker");
    const next = await aliceEvents.next(
      (e) => e.type !== "message" || (e.message as Message).id === marker.id,
    );
    assert.equal(next.type, "message", `alice learnt ${JSON.stringify(next)}`);
    // Bob's own list is right: the read marker moved.
    const bobConv = at(
      (await bob.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[],
      0,
    );
    assert.equal(bobConv.unread, 1);
    // Mute.
    assert.equal((await alice.call("PUT", `/v1/conversations/${b}/mute`)).status, 200);
    conv = at((await alice.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[], 0);
    assert.equal(conv.muted, true);
    await alice.call("DELETE", `/v1/conversations/${b}/mute`);
    assert.equal(
      (await alice.call("PUT", `/v1/conversations/${b}/mute`, { until: Date.now() + 60_000 })).status,
      200,
    );
    expectError(
      await alice.call("PUT", `/v1/conversations/${b}/mute`, { until: "soon" }),
      400,
      "invalid_input",
    );
    expectError(await alice.call("PUT", `/v1/conversations/${b}/mute`, { until: 5 }), 400, "invalid_input");
    conv = at((await alice.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[], 0);
    assert.equal(conv.muted, true);
    aliceEvents.close();
  });

  it("validates settings, and typing and presence off hide them from peers", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    assert.deepEqual((await alice.call("GET", "/v1/settings")).body.settings, {
      readReceipts: true,
      deliveryReceipts: true,
      typing: true,
      presence: true,
      notifications: true,
    });
    expectError(await alice.call("PATCH", "/v1/settings", { typing: "no" }), 400, "invalid_input");
    expectError(await alice.call("PATCH", "/v1/settings", { admin: true }), 400, "invalid_input");
    expectError(await alice.call("PATCH", "/v1/settings", [true]), 400, "invalid_input");
    await alice.call("PATCH", "/v1/settings", { typing: false, presence: false });
    const bobEvents = await openStream(base, bob.token);
    const aliceStream = await openStream(base, alice.token);
    assert.equal((await alice.call("POST", "/v1/typing", { to: b })).status, 200);
    const m = await alice.send(b, "after typing");
    const first = await bobEvents.next((e) => e.type !== "hello");
    assert.equal(first.type, "message", `bob learnt ${JSON.stringify(first)}`);
    assert.equal((first.message as Message).id, m.id);
    const presence = await bob.call("GET", `/v1/presence?users=${a}`);
    assert.deepEqual(presence.body.presence, { [a]: { online: false } });
    const own = await alice.call("GET", `/v1/presence?users=${a}`);
    assert.equal(at(own.body.presence as Record<string, { online: boolean }>, a).online, true);
    bobEvents.close();
    aliceStream.close();
  });
});

describe("with pairs and the screen", () => {
  it("screens an edit like a send, and refuses reactions once unmatched (not_matched)", async () => {
    const s = await startDuet({ DUET_PAIRS: "matched", DUET_SCREEN: "mask" });
    try {
      const [a, b] = names("alice", "bob");
      const alice = await client(s.url, a);
      const bob = await client(s.url, b);
      const admin = (method: string, path: string) =>
        fetch(`${s.url}${path}`, { method, headers: { authorization: `Bearer ${API_KEY}` } });
      assert.equal((await admin("PUT", `/v1/admin/pairs/${a}/${b}`)).status, 201);
      const m = await alice.send(b, "hello");
      const edited = await alice.call("PATCH", `/v1/messages/${m.id}`, { text: "call me on 555 123 4567" });
      assert.equal(edited.status, 200, JSON.stringify(edited.body));
      const message = edited.body.message as Message;
      assert.ok(!message.text?.includes("4567"), message.text ?? "");
      assert.deepEqual(message.screened, ["phone"]);
      assert.equal((await admin("DELETE", `/v1/admin/pairs/${a}/${b}?history=keep`)).status, 200);
      expectError(
        await bob.call("PUT", `/v1/messages/${m.id}/reactions/${encodeURIComponent("❤️")}`),
        403,
        "not_matched",
      );
      expectError(
        await bob.call("POST", `/v1/conversations/${a}/delivered`, { upTo: m.id }),
        403,
        "not_matched",
      );
      expectError(await alice.call("PATCH", `/v1/messages/${m.id}`, { text: "again" }), 403, "not_matched");
    } finally {
      await s.close();
    }
  });
});
