/** Pure units of the core: the token bucket, presence, and input validation. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DuetError } from "../../src/core/errors.js";
import { LocalPresence } from "../../src/core/local-presence.js";
import { RateLimiter } from "../../src/core/rate-limit.js";
import { intParam, isUserId, messageId, sendInput, systemInput } from "../../src/core/validate.js";

function invalid(fn: () => unknown, code = "invalid_input"): void {
  assert.throws(fn, (err: unknown) => err instanceof DuetError && err.code === code);
}

describe("RateLimiter", () => {
  it("allows the burst, then one token per 1/rate seconds, per key", () => {
    const limiter = new RateLimiter(2, 3);
    const t = 1_000_000;
    assert.deepEqual([limiter.take("a", t), limiter.take("a", t), limiter.take("a", t)], [0, 0, 0]);
    // The 4th quick take waits: Retry-After is whole seconds, at least 1.
    assert.equal(limiter.take("a", t), 1);
    assert.equal(limiter.take("a", t + 499), 1);
    assert.equal(limiter.take("a", t + 500), 0);
    assert.equal(limiter.take("a", t + 500), 1);
    // Another key has its own bucket.
    assert.equal(limiter.take("b", t + 500), 0);
    // Refills cap at the burst.
    const later = t + 60_000;
    assert.deepEqual(
      [0, 1, 2, 3].map(() => limiter.take("a", later)),
      [0, 0, 0, 1],
    );
  });

  it("says how long to wait at slow rates", () => {
    const limiter = new RateLimiter(1, 1);
    assert.equal(limiter.take("a", 0), 0);
    assert.equal(limiter.take("a", 0), 1);
    assert.equal(limiter.take("a", 999), 1);
    assert.equal(limiter.take("a", 1000), 0);
  });

  it("prunes only buckets that have refilled completely", () => {
    const limiter = new RateLimiter(2, 4);
    limiter.take("idle", 0);
    limiter.take("busy", 1900);
    limiter.prune(2000); // idle refilled (needs 2 s), busy did not
    // A pruned key starts from a full bucket: still 4 allowed at once.
    assert.deepEqual(
      [0, 1, 2, 3, 4].map(() => limiter.take("idle", 2000)),
      [0, 0, 0, 0, 1],
    );
    assert.deepEqual(
      [0, 1, 2, 3].map(() => limiter.take("busy", 2000)),
      [0, 0, 0, 1],
    );
  });
});

describe("LocalPresence", () => {
  it("is online while a stream is open, offline with lastSeen after", async () => {
    const p = new LocalPresence(60_000);
    assert.deepEqual(await p.query(["a"]), { a: { online: false } });
    p.connected("a");
    p.connected("a");
    p.disconnected("a");
    assert.deepEqual(await p.query(["a"]), { a: { online: true } });
    const before = Date.now();
    p.disconnected("a");
    const { a } = await p.query(["a"]);
    assert.equal(a?.online, false);
    assert.ok(a?.lastSeen !== undefined && a.lastSeen >= before && a.lastSeen <= Date.now());
  });

  it("counts a poll as online for the poll window", async () => {
    const p = new LocalPresence(60_000);
    p.polled("a");
    assert.deepEqual(await p.query(["a"]), { a: { online: true } });
    const short = new LocalPresence(1);
    short.polled("b");
    const polledAt = Date.now();
    while (Date.now() < polledAt + 2) {
      // the window (1 ms) passes
    }
    const { b } = await short.query(["b"]);
    assert.equal(b?.online, false);
    assert.equal(typeof b?.lastSeen, "number");
  });
});

describe("validation", () => {
  it("user ids: 1-64 of [A-Za-z0-9_.@-], never . or ..", () => {
    for (const ok of ["a", "alice", "a.b@c-d_e", "x".repeat(64), "...", ".a", "a."])
      assert.ok(isUserId(ok), ok);
    for (const bad of ["", ".", "..", "x".repeat(65), "a b", "a/b", "a\u0000", "é", 5, null, undefined]) {
      assert.ok(!isUserId(bad), String(bad));
    }
  });

  it("message ids are 26 Crockford base32 characters", () => {
    assert.equal(messageId("01ARZ3NDEKTSV4RRFFQ69G5FAV", "id"), "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    for (const bad of [
      "",
      "01ARZ3NDEKTSV4RRFFQ69G5FA",
      "01arz3ndektsv4rrffq69g5fav",
      "01ARZ3NDEKTSV4RRFFQ69G5FAI",
      7,
    ]) {
      invalid(() => messageId(bad, "id"));
    }
  });

  it("sendInput builds text and image messages and refuses everything else", () => {
    assert.deepEqual(sendInput("alice", { to: "bob", text: "hi" }, 10), {
      from: "alice",
      to: "bob",
      kind: "text",
      text: "hi",
      image: null,
      links: [],
      clientMsgId: null,
    });
    const img = sendInput("alice", { to: "bob", image: { url: "https://x.example/a.png", width: 1 } }, 10);
    assert.equal(img.kind, "image");
    assert.equal(img.text, null);
    assert.deepEqual(img.image, { url: "https://x.example/a.png", width: 1 });
    assert.equal(sendInput("alice", { to: "bob", text: "x".repeat(10) }, 10).text?.length, 10);
    invalid(() => sendInput("alice", { to: "bob", text: "x".repeat(11) }, 10));
    invalid(() => sendInput("alice", { to: "alice", text: "x" }, 10), "self_message");
    invalid(() => sendInput("alice", { to: "bob", text: "\udc00" }, 10));
    invalid(() => sendInput("alice", { to: "bob", text: "x", op: "send" }, 10));
    invalid(() => sendInput("alice", null, 10));
    invalid(() => sendInput("alice", [], 10));
  });

  it("systemInput defaults from to system and needs text", () => {
    const s = systemInput({ to: "bob", text: "hello" }, 100);
    assert.equal(s.from, "system");
    assert.equal(s.kind, "system");
    assert.equal(systemInput({ to: "bob", text: "x", from: "alice" }, 100).from, "alice");
    invalid(() => systemInput({ to: "bob" }, 100));
    invalid(() => systemInput({ to: "bob", text: "x", from: "bob" }, 100), "self_message");
    invalid(() => systemInput({ to: "bob", text: "x", image: { url: "https://x.example" } }, 100));
  });

  it("intParam: digits only, at least min, clamped to max", () => {
    assert.equal(intParam(null, "limit", 50, 1, 200), 50);
    assert.equal(intParam("", "limit", 50, 1, 200), 50);
    assert.equal(intParam("7", "limit", 50, 1, 200), 7);
    assert.equal(intParam("999999999999999", "limit", 50, 1, 200), 200);
    for (const bad of ["0", "-1", "+1", "1.0", "1e3", "0x10", " 1", "1 ", "9999999999999999", "abc"]) {
      invalid(() => intParam(bad, "limit", 50, 1, 200));
    }
  });
});

describe("LocalPresence memory", () => {
  it("forgets the least recently seen user past its bound", async () => {
    const presence = new LocalPresence(60_000, 2);
    presence.connected("a");
    presence.disconnected("a");
    presence.connected("b");
    presence.disconnected("b");
    presence.connected("c");
    presence.disconnected("c");
    const seen = await presence.query(["a", "b", "c"]);
    assert.deepEqual(seen.a, { online: false });
    assert.equal(seen.b?.online, false);
    assert.equal(typeof seen.b?.lastSeen, "number");
    assert.equal(typeof seen.c?.lastSeen, "number");
  });
});
