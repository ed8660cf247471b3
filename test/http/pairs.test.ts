/** SPEC section 11 over HTTP: the server API's pairs, not_matched, unmatch, blocks' receipts. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { API_KEY, api, startDuet, type TestServer } from "../helpers/duet.js";
import { startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { client, eventsOf, expectError, names, openStream } from "./util.js";

let matched: TestServer;
let open: TestServer;
before(async () => {
  [matched, open] = await Promise.all([startDuet({ DUET_PAIRS: "matched" }), startDuet()]);
});
after(async () => {
  await Promise.all([matched.close(), open.close()]);
  await stopAllRedis();
});

const admin = (server: TestServer, method: string, path: string, body?: unknown) =>
  api(server.url, API_KEY, method, path, body);

describe("the server API's pairs", () => {
  it("matches once (201, then 200), unordered, lists and validates", async () => {
    const [a, b, c] = names("alice", "bob", "carol");
    const first = await admin(matched, "PUT", `/v1/admin/pairs/${b}/${a}`);
    assert.equal(first.status, 201);
    const pair = first.body.pair as { users: string[]; since: number; screen: string | null };
    assert.deepEqual(pair.users, [a, b].sort());
    assert.equal(pair.screen, null);
    const again = await admin(matched, "PUT", `/v1/admin/pairs/${a}/${b}`, { screen: "mask" });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.pair, { ...pair, screen: "mask" });
    await admin(matched, "PUT", `/v1/admin/pairs/${a}/${c}`, {});
    const list = await admin(matched, "GET", `/v1/admin/pairs/${a}`);
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.body.pairs as { users: string[] }[]).map((p) => p.users).sort(),
      [[a, b].sort(), [a, c].sort()].sort(),
    );
    assert.deepEqual((await admin(matched, "GET", `/v1/admin/pairs/${names("x")[0]}`)).body, { pairs: [] });
    assert.equal(matched.chat.pairs.mode, "matched");
    assert.equal(await matched.chat.pairs.screenFor(b, a), "mask");
    // null puts the pair back on the server's --screen, as the documents say.
    const reset = await admin(matched, "PUT", `/v1/admin/pairs/${a}/${b}`, { screen: null });
    assert.equal(reset.status, 200);
    assert.equal((reset.body.pair as { screen: unknown }).screen, null);
  });

  it("refuses hostile ids, a self-pair, bad bodies and a missing key, changing nothing", async () => {
    const [a, b] = names("alice", "bob");
    for (const path of [
      `/v1/admin/pairs/${a}/${a}`,
      `/v1/admin/pairs/${a}/bad%2Fid`,
      `/v1/admin/pairs/${a}/%00`,
      `/v1/admin/pairs/${a}/${"x".repeat(65)}`,
      `/v1/admin/pairs/${a}/system`,
      `/v1/admin/pairs/..%2F..%2Fetc/${a}`,
    ]) {
      expectError(await admin(matched, "PUT", path), 400, "invalid_input");
      expectError(await admin(matched, "DELETE", path), 400, "invalid_input");
    }
    expectError(await admin(matched, "GET", "/v1/admin/pairs/bad%20id"), 400, "invalid_input");
    for (const body of [{ screen: "loud" }, { screen: 1 }, { other: true }, [1], "null"]) {
      expectError(await admin(matched, "PUT", `/v1/admin/pairs/${a}/${b}`, body), 400);
    }
    expectError(await admin(matched, "PUT", `/v1/admin/pairs/${a}/${b}`, "{"), 400, "invalid_json");
    expectError(await api(matched.url, null, "PUT", `/v1/admin/pairs/${a}/${b}`), 401, "unauthorized");
    expectError(await api(matched.url, "wrong", "GET", `/v1/admin/pairs/${a}`), 401, "unauthorized");
    // A user token is not the API key.
    const alice = await client(matched.url, a);
    expectError(await alice.call("PUT", `/v1/admin/pairs/${a}/${b}`), 401, "unauthorized");
    assert.deepEqual((await admin(matched, "GET", `/v1/admin/pairs/${a}`)).body, { pairs: [] });
    expectError(await admin(matched, "DELETE", `/v1/admin/pairs/${a}/${b}`), 404, "not_found");
    expectError(await admin(matched, "DELETE", `/v1/admin/pairs/${a}/${b}?history=maybe`), 400);
  });
});

describe("matched mode", () => {
  it("refuses send, typing, read and presence between unmatched users with not_matched", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(matched.url, a);
    const bob = await client(matched.url, b);
    expectError(await alice.call("POST", "/v1/messages", { to: b, text: "hi" }), 403, "not_matched");
    expectError(await alice.call("POST", "/v1/typing", { to: b }), 403, "not_matched");
    expectError(
      await bob.call("POST", `/v1/conversations/${a}/read`, { upTo: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" }),
      403,
      "not_matched",
    );
    expectError(await alice.call("GET", `/v1/presence?users=${b}`), 403, "not_matched");
    assert.equal((await alice.call("GET", `/v1/presence?users=${a}`)).status, 200);
    // A system message still gets through.
    assert.equal(
      (await admin(matched, "POST", "/v1/admin/messages", { to: b, text: "hello", from: a })).status,
      201,
    );
  });

  it("a match reaches both users' streams, is listed with no last message, and opens the conversation", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(matched.url, a);
    const bob = await client(matched.url, b);
    const aStream = await openStream(matched.url, alice.token);
    const bStream = await openStream(matched.url, bob.token);
    try {
      await aStream.next((e) => e.type === "hello");
      await bStream.next((e) => e.type === "hello");
      assert.equal((await admin(matched, "PUT", `/v1/admin/pairs/${a}/${b}`)).status, 201);
      assert.deepEqual(await aStream.next(), { type: "pair", seq: 1, peer: b, state: "matched" });
      assert.deepEqual(await bStream.next(), { type: "pair", seq: 1, peer: a, state: "matched" });
      const convs = (await bob.call("GET", "/v1/conversations")).body.conversations as Record<
        string,
        unknown
      >[];
      assert.deepEqual(
        convs.map((x) => [x.peer, x.unread, x.lastMessage]),
        [[a, 0, null]],
      );
      await alice.send(b, "hi bob");
      assert.equal((await bob.call("POST", "/v1/typing", { to: a })).status, 200);
      assert.deepEqual(await aStream.next((e) => e.type === "typing"), { type: "typing", from: b });
      assert.equal((await alice.call("GET", `/v1/presence?users=${b}`)).status, 200);
      // Replayed on resume like every stored event.
      assert.deepEqual((await eventsOf(matched.url, bob.token, 0))[0], {
        type: "pair",
        seq: 1,
        peer: a,
        state: "matched",
      });
    } finally {
      aStream.close();
      bStream.close();
    }
  });

  it("an unmatch by either user erases the conversation for both, at once on every connection", async () => {
    const [a, b, c] = names("alice", "bob", "carol");
    const alice = await client(matched.url, a);
    const bob = await client(matched.url, b);
    await admin(matched, "PUT", `/v1/admin/pairs/${a}/${b}`);
    await admin(matched, "PUT", `/v1/admin/pairs/${a}/${c}`);
    const m1 = await alice.send(b, "my number is secret");
    await bob.send(a, "reply");
    await alice.call("POST", `/v1/conversations/${b}/read`, { upTo: m1.id });
    await (await client(matched.url, c)).send(a, "hello from carol");
    const aStream = await openStream(matched.url, alice.token);
    const bStream = await openStream(matched.url, bob.token);
    try {
      await aStream.next((e) => e.type === "hello");
      await bStream.next((e) => e.type === "hello");
      const r = await bob.call("DELETE", `/v1/pairs/${a}`);
      assert.equal(r.status, 200);
      const unmatched = { type: "pair", state: "unmatched", historyDeleted: true };
      assert.deepEqual({ ...(await aStream.next()), seq: 0 }, { ...unmatched, seq: 0, peer: b });
      assert.deepEqual({ ...(await bStream.next()), seq: 0 }, { ...unmatched, seq: 0, peer: a });
    } finally {
      aStream.close();
      bStream.close();
    }
    for (const [user, peer] of [
      [alice, b],
      [bob, a],
    ] as const) {
      assert.deepEqual((await user.call("GET", `/v1/conversations/${peer}/messages`)).body, {
        messages: [],
        hasMore: false,
      });
      const convs = (await user.call("GET", "/v1/conversations")).body.conversations as { peer: string }[];
      assert.ok(!convs.some((x) => x.peer === peer));
      const log = JSON.stringify(await eventsOf(matched.url, user.token, 0));
      assert.ok(!log.includes("secret") && !log.includes("reply"), log);
    }
    assert.equal(((await alice.call("GET", "/v1/conversations")).body.conversations as unknown[]).length, 1);
    expectError(await alice.call("POST", "/v1/messages", { to: b, text: "still?" }), 403, "not_matched");
    expectError(await alice.call("DELETE", `/v1/pairs/${b}`), 404, "not_found");
    expectError(await alice.call("DELETE", `/v1/pairs/${a}`), 400, "invalid_input");
    expectError(await alice.call("DELETE", "/v1/pairs/bad%2Fpeer"), 400, "invalid_input");
    expectError(await api(matched.url, null, "DELETE", `/v1/pairs/${b}`), 401);
  });

  it("keeps the conversation with ?history=keep", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(matched.url, a);
    await admin(matched, "PUT", `/v1/admin/pairs/${a}/${b}`);
    await alice.send(b, "keep me");
    assert.equal((await admin(matched, "DELETE", `/v1/admin/pairs/${b}/${a}?history=keep`)).status, 200);
    const events = await eventsOf(matched.url, alice.token, 0);
    assert.deepEqual(events.at(-1), {
      type: "pair",
      seq: 3,
      peer: b,
      state: "unmatched",
      historyDeleted: false,
    });
    const history = (await alice.call("GET", `/v1/conversations/${b}/messages`)).body.messages as {
      text: string;
    }[];
    assert.deepEqual(
      history.map((m) => m.text),
      ["keep me"],
    );
    expectError(await alice.call("POST", "/v1/messages", { to: b, text: "no" }), 403, "not_matched");
  });
});

describe("notifications", () => {
  it("an unmatch drops the pair's pending notifications both ways", async () => {
    const [a, b] = names("alice", "bob");
    const dropped: string[] = [];
    const original = matched.chat.dropPendingNotifications;
    matched.chat.dropPendingNotifications = async (user, peer) => {
      dropped.push(`${user}>${peer}`);
    };
    try {
      await admin(matched, "PUT", `/v1/admin/pairs/${a}/${b}`);
      assert.equal((await admin(matched, "DELETE", `/v1/admin/pairs/${a}/${b}`)).status, 200);
      assert.deepEqual(dropped.sort(), [`${a}>${b}`, `${b}>${a}`].sort());
    } finally {
      matched.chat.dropPendingNotifications = original;
    }
  });
});

describe("open mode", () => {
  it("lets anyone talk, refuses an unmatched pair until it is matched again", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(open.url, a);
    await alice.send(b, "no match needed");
    assert.equal((await admin(open, "PUT", `/v1/admin/pairs/${a}/${b}`)).status, 201);
    assert.equal((await admin(open, "DELETE", `/v1/admin/pairs/${a}/${b}`)).status, 200);
    expectError(await alice.call("POST", "/v1/messages", { to: b, text: "again" }), 403, "not_matched");
    expectError(await alice.call("POST", "/v1/typing", { to: b }), 403, "not_matched");
    await admin(open, "PUT", `/v1/admin/pairs/${a}/${b}`);
    await alice.send(b, "matched again");
  });
});

describe("blocks close the leaks", () => {
  it("stop read receipts and typing in both directions", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(open.url, a);
    const bob = await client(open.url, b);
    const m = await alice.send(b, "hi");
    const fromBob = await bob.send(a, "hey");
    await bob.call("PUT", `/v1/blocks/${a}`);
    // The blocked one cannot tell the blocker it read, nor the blocker the blocked one.
    expectError(
      await alice.call("POST", `/v1/conversations/${b}/read`, { upTo: fromBob.id }),
      403,
      "blocked",
    );
    expectError(await bob.call("POST", `/v1/conversations/${a}/read`, { upTo: m.id }), 403, "blocked");
    expectError(await bob.call("GET", `/v1/conversations/${a}/unread?markRead=true`), 403, "blocked");
    assert.equal((await bob.call("GET", `/v1/conversations/${a}/unread?markRead=false`)).status, 200);
    expectError(await alice.call("POST", "/v1/typing", { to: b }), 403, "blocked");
    expectError(await bob.call("POST", "/v1/typing", { to: a }), 403, "blocked");
    const log = await eventsOf(open.url, alice.token, 0);
    assert.ok(!log.some((e) => e.type === "read"));
    await bob.call("DELETE", `/v1/blocks/${a}`);
    assert.equal((await bob.call("POST", `/v1/conversations/${a}/read`, { upTo: m.id })).status, 200);
  });
});

describe("pairs on Redis, two processes", () => {
  it("a pair event reaches every connection of both users on both processes", async () => {
    const redis = await startRedis();
    const env = { DUET_STORE: redis.url, DUET_PAIRS: "matched" };
    const [p1, p2] = await Promise.all([startDuet(env), startDuet(env)]);
    try {
      const [a, b] = names("alice", "bob");
      const alice = await client(p1.url, a);
      const bob = await client(p1.url, b);
      const streams = await Promise.all([
        openStream(p1.url, alice.token),
        openStream(p2.url, alice.token),
        openStream(p2.url, bob.token),
        openStream(p1.url, bob.token),
      ]);
      try {
        for (const s of streams) await s.next((e) => e.type === "hello");
        assert.equal((await admin(p1, "PUT", `/v1/admin/pairs/${a}/${b}`)).status, 201);
        for (const s of streams) assert.equal((await s.next()).state, "matched");
        await alice.send(b, "secret over redis");
        for (const s of streams) await s.next((e) => e.type === "message");
        assert.equal((await api(p2.url, bob.token, "DELETE", `/v1/pairs/${a}`)).status, 200);
        for (const s of streams) {
          const e = await s.next();
          assert.deepEqual([e.type, e.state, e.historyDeleted], ["pair", "unmatched", true]);
        }
        const log = JSON.stringify(await eventsOf(p2.url, alice.token, 0));
        assert.ok(!log.includes("secret"), log);
        expectError(await alice.call("POST", "/v1/messages", { to: b, text: "x" }), 403, "not_matched");
      } finally {
        for (const s of streams) s.close();
      }
    } finally {
      await Promise.all([p1.close(), p2.close()]);
    }
  });
});
