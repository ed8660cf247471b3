/**
 * SPEC 15's disappearing messages over HTTP and every transport: PUT /v1/conversations/:peer/ttl
 * (hostile input included), the `ttl` event live and on resume, expiresAt on sends, and the
 * server's sweeper with DUET_MESSAGE_TTL_S.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ConversationSummary, Message } from "../../src/core/types.js";
import type { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { connect, TRANSPORTS } from "../helpers/clients.js";
import { startDuet, type TestServer } from "../helpers/duet.js";
import { at, sleep } from "../helpers/kit.js";
import { client, expectError, names, waitFor } from "./util.js";

describe("PUT /v1/conversations/:peer/ttl", () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    server = await startDuet({ DUET_SEND_RATE: "100000", DUET_SEND_BURST: "100000" });
    base = server.url;
  });
  after(async () => {
    await server.close();
  });

  it("sets the ttl; both sides get the ttl event on every transport; it replays on resume", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    await alice.send(b, "hello");
    const streams = await Promise.all([
      ...TRANSPORTS.map((t) => connect(t, base, alice.token)),
      connect("ws", base, bob.token),
    ]);
    const r = await bob.call("PUT", `/v1/conversations/${a}/ttl`, { seconds: 3600 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { peer: a, seconds: 3600 });
    for (const s of streams) await s.waitFor("a ttl event", () => s.ofType("ttl").length === 1);
    for (const s of streams.slice(0, -1))
      assert.deepEqual(
        { ...at(s.ofType("ttl"), 0), seq: 0 },
        { type: "ttl", seq: 0, peer: b, seconds: 3600 },
      );
    const bobs = at(streams, streams.length - 1);
    assert.deepEqual(
      { ...at(bobs.ofType("ttl"), 0), seq: 0 },
      { type: "ttl", seq: 0, peer: a, seconds: 3600 },
    );
    await Promise.all(streams.map((s) => s.close()));
    // Resume from before it: replayed, on every transport.
    for (const t of TRANSPORTS) {
      const resumed = await connect(t, base, alice.token, { since: 1 });
      await resumed.waitFor("the replayed ttl event", () => resumed.ofType("ttl").length === 1);
      await resumed.close();
    }
    // A repeat is 200 and appends nothing; messages sent after it carry expiresAt.
    const repeat = await alice.call("PUT", `/v1/conversations/${b}/ttl`, { seconds: 3600 });
    assert.equal(repeat.status, 200);
    const m = await alice.send(b, "expiring");
    assert.equal(m.expiresAt, m.ts + 3_600_000);
    const history = (await bob.call("GET", `/v1/conversations/${a}/messages`)).body.messages as Message[];
    assert.deepEqual(
      history.map((x) => x.expiresAt),
      [undefined, m.ts + 3_600_000],
    );
    // The conversation list shows it on both sides (a new device learns it without the log).
    const ttlIn = async (user: typeof alice, peer: string) =>
      ((await user.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[]).find(
        (c) => c.peer === peer,
      )?.ttl;
    assert.equal(await ttlIn(alice, b), 3600);
    assert.equal(await ttlIn(bob, a), 3600);
    // 0 turns it off.
    const off = await bob.call("PUT", `/v1/conversations/${a}/ttl`, { seconds: 0 });
    assert.deepEqual(off.body, { peer: a, seconds: 0 });
    assert.equal((await alice.send(b, "forever")).expiresAt, undefined);
    assert.equal(await ttlIn(alice, b), 0);
  });

  it("refuses hostile values with 400 invalid_input, and changes nothing", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const path = `/v1/conversations/${b}/ttl`;
    for (const body of [
      { seconds: -1 },
      { seconds: 1e308 },
      { seconds: "60" },
      { seconds: 10 * 365 * 86_400 },
      { seconds: 90 * 86_400 + 1 },
      { seconds: 59 },
      { seconds: 1 },
      { seconds: 60.5 },
      { seconds: null },
      { seconds: true },
      { seconds: [60] },
      {},
      { seconds: 60, extra: 1 },
      [60],
      "60",
    ])
      expectError(await alice.call("PUT", path, body), 400, "invalid_input");
    expectError(await alice.call("PUT", path, "{not json"), 400, "invalid_json");
    expectError(await alice.call("PUT", `/v1/conversations/${a}/ttl`, { seconds: 60 }), 400, "self_message");
    expectError(
      await alice.call("PUT", "/v1/conversations/..%2Fx/ttl", { seconds: 60 }),
      400,
      "invalid_input",
    );
    // Nothing changed: a message now does not expire.
    assert.equal((await alice.send(b, "plain")).expiresAt, undefined);
    // The bounds themselves are fine.
    for (const seconds of [60, 90 * 86_400])
      assert.equal((await alice.call("PUT", path, { seconds })).status, 200);
  });

  it("refuses a pair that may not talk: blocked either way", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    assert.equal((await bob.call("PUT", `/v1/blocks/${a}`)).status < 300, true);
    expectError(await alice.call("PUT", `/v1/conversations/${b}/ttl`, { seconds: 60 }), 403, "blocked");
    expectError(await bob.call("PUT", `/v1/conversations/${a}/ttl`, { seconds: 60 }), 403, "blocked");
  });
});

describe("DUET_MESSAGE_TTL_S and the sweeper", () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    server = await startDuet({ DUET_MESSAGE_TTL_S: "1", DUET_EXPIRY_SWEEP_MS: "100" });
    base = server.url;
  });
  after(async () => {
    await server.close();
  });

  it("stamps the default on sends; hides and then erases expired messages within a tick", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const m = await alice.send(b, "gone in a second");
    assert.equal(m.expiresAt, m.ts + 1000);
    const unread = (await bob.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[];
    assert.equal(at(unread, 0).unread, 1);
    // The server default is not the conversation's own ttl: the list says 0.
    assert.equal(at(unread, 0).ttl, 0);
    await sleep((m.expiresAt ?? 0) - Date.now() + 20);
    // Hidden from the moment it expires, swept or not.
    const history = (await bob.call("GET", `/v1/conversations/${a}/messages`)).body.messages as Message[];
    assert.deepEqual(history, [
      { id: m.id, from: a, to: b, ts: m.ts, kind: "deleted", deletedAt: m.expiresAt },
    ]);
    const list = (await bob.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[];
    assert.equal(at(list, 0).unread, 0);
    assert.equal(at(list, 0).lastMessage?.kind, "deleted");
    // Erased by the sweeper: the stored row is the tombstone.
    await waitFor("the sweep", async () => {
      const res = await fetch(`${base}/metrics`);
      const metrics = await res.text();
      return /^duet_messages_expired_total [1-9]/m.test(metrics);
    });
    const db = (server.chat.store as SqliteStore).db;
    const stored = db.prepare("SELECT body FROM messages WHERE id = ?").pluck().get(m.id);
    assert.equal(stored, JSON.stringify(at(history, 0)));
  });
});

describe("an expired message before any sweep", () => {
  let server: TestServer;
  before(async () => {
    // The sweeper's first tick is a minute away: whatever is read here comes from unswept data.
    server = await startDuet({ DUET_MESSAGE_TTL_S: "1", DUET_EXPIRY_SWEEP_MS: "60000" });
  });
  after(async () => {
    await server.close();
  });

  it("is a tombstone to history, edits and reports, though its text is still stored", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const bob = await client(server.url, b);
    const m = await alice.send(b, "not yet swept");
    await sleep((m.expiresAt ?? 0) - Date.now() + 20);
    const db = (server.chat.store as SqliteStore).db;
    const stored = db.prepare("SELECT body FROM messages WHERE id = ?").pluck().get(m.id) as string;
    assert.ok(stored.includes("not yet swept"), "the sweeper ran early");
    const history = (await bob.call("GET", `/v1/conversations/${a}/messages`)).body.messages as Message[];
    assert.equal(at(history, 0).kind, "deleted");
    expectError(await alice.call("PATCH", `/v1/messages/${m.id}`, { text: "again" }), 409, "conflict");
    const report = await bob.call("POST", "/v1/reports", { user: a, reason: "spam", messageIds: [m.id] });
    assert.equal(report.status, 201, JSON.stringify(report.body));
    assert.equal(JSON.stringify(report.body).includes("not yet swept"), false);
  });
});
