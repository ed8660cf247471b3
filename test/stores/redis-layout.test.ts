/**
 * The Redis layout of a message (sixth session): its body is stored once, in its conversation's
 * `msg` hash; each user's log holds a reference ("m": "<id> <peer>") and the conversation list
 * reads the last message from the conversation. Data written before (logs with the whole event
 * JSON, `last` hashes with bodies) stays readable.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { DEFAULT_LIMITS, editRule, unsendRule } from "../../src/core/lifecycle-rules.js";
import type { Message, SendInput } from "../../src/core/types.js";
import { lifecycleOf } from "../../src/stores/lifecycle.js";
import { RedisKeys } from "../../src/stores/redis/keys.js";
import { openRedisStore, type RedisStore } from "../../src/stores/redis/redis-store.js";
import { at } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { keyContents } from "../helpers/store-scan.js";

const MONTH = 30 * 86_400_000;

function text(from: string, to: string, body: string): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId: null };
}

/** The keys under `prefix` whose readable contents hold `needle`. */
async function keysHolding(admin: Redis, prefix: string, needle: string): Promise<string[]> {
  const out: string[] = [];
  for (const key of await admin.keys(`${prefix}*`)) {
    if ((await keyContents(admin, key, await admin.type(key))).includes(needle)) out.push(key);
  }
  return out.sort();
}

describe("redis message layout", () => {
  let server: RedisServer;
  let admin: Redis;
  let n = 0;
  const stores: RedisStore[] = [];
  const open = async (prefix: string) => {
    const store = await openRedisStore(server.url, {
      prefix,
      retention: { maxEvents: 100, maxAgeMs: MONTH },
    });
    stores.push(store);
    return store;
  };
  before(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
  });
  after(async () => {
    admin.disconnect();
    await Promise.all(stores.map((s) => s.close()));
    await stopAllRedis();
  });

  it("stores a message's body in one key, and every reader finds it", async () => {
    const prefix = `lay${++n}:`;
    const store = await open(prefix);
    const sent = await store.send(text("amy", "bo", "only-once-body"));
    const keys = new RedisKeys(prefix);
    assert.deepEqual(await keysHolding(admin, prefix, "only-once-body"), [
      keys.conversation("amy", "bo").msg,
    ]);
    // Both logs refer to it; both see it, with the seq the send answered.
    for (const [user, i] of [
      ["amy", 0],
      ["bo", 1],
    ] as const) {
      const page = await store.eventsSince(user, 0, 10);
      assert.deepEqual(page.events, [at(sent.events, i).event]);
      const [summary] = await store.conversations(user, 10);
      assert.deepEqual(summary?.lastMessage, sent.message);
    }
    // An edit shows in the replayed `message` event too (as on SQLite: the message as it is now).
    const lc = await lifecycleOf(store);
    const edited = await lc.updateMessage("amy", sent.message.id, (m) =>
      editRule(m, "amy", "edited-body", Date.now(), DEFAULT_LIMITS),
    );
    const replay = (await store.eventsSince("bo", 0, 10)).events;
    assert.equal(replay[0]?.type, "message");
    assert.equal((replay[0] as { message: Message }).message.text, "edited-body");
    assert.deepEqual((await store.conversations("bo", 10))[0]?.lastMessage, edited?.message);
    // The edit's own event is a reference too: the edited body is in the message hash only.
    assert.deepEqual(replay[1], { type: "edit", seq: 2, message: edited?.message });
    assert.deepEqual(await keysHolding(admin, prefix, "edited-body"), [keys.conversation("amy", "bo").msg]);
  });

  it("reads logs and summaries written before message events became references", async () => {
    const prefix = `lay${++n}:`;
    const store = await open(prefix);
    const keys = new RedisKeys(prefix);
    // The old layout by hand: the body in the message hash, in both logs' events, in both `last`.
    const conv = keys.conversation("cy", "di");
    const id = "01JF0000000000000000000000";
    const body = `{"id":"${id}","from":"cy","to":"di","ts":1734000000000,"kind":"text","text":"old-layout","image":null,"links":[],"clientMsgId":null}`;
    await admin.hset(conv.msg, id, body);
    await admin.zadd(conv.ids, 0, id);
    await admin.zadd(conv.from("cy"), 0, id);
    for (const [user, peer] of [
      ["cy", "di"],
      ["di", "cy"],
    ] as const) {
      const u = keys.user(user);
      await admin.set(u.seq, "1");
      await admin.xadd(u.log, "1-0", "e", `{"type":"message","seq":1,"message":${body}}`, "t", Date.now());
      await admin.zadd(u.convs, 1734000000000, peer);
      await admin.hset(u.last, peer, body);
    }
    const old = JSON.parse(body) as Message;
    // A new message after it: the log then holds both kinds of entry.
    const next = await store.send(text("di", "cy", "new-layout"));
    const page = await store.eventsSince("cy", 0, 10);
    assert.deepEqual(page.events, [{ type: "message", seq: 1, message: old }, at(next.events, 1).event]);
    assert.deepEqual((await store.conversations("cy", 10))[0]?.lastMessage, next.message);
    // Unsending the old message tombstones its old-style event; the new one's reference stays.
    const lc = await lifecycleOf(store);
    const r = await lc.updateMessage("cy", id, (m) => unsendRule(m, "cy", Date.now(), DEFAULT_LIMITS));
    assert.equal(r?.message.kind, "deleted");
    const after = (await store.eventsSince("di", 0, 10)).events;
    assert.deepEqual(
      after.map((e) => [e.type, e.seq, "message" in e ? e.message.kind : ""]),
      [
        ["message", 1, "deleted"],
        ["message", 2, "text"],
        ["delete", 3, ""],
      ],
    );
    // The text is in no key: the old `last` copies (which nothing reads any more) went too.
    assert.deepEqual(await keysHolding(admin, prefix, "old-layout"), []);
  });

  it("counts stored messages without a command per send, for every process", async () => {
    const prefix = `lay${++n}:`;
    const a = await open(prefix);
    const b = await open(prefix);
    const before = a.roundTrips;
    for (let i = 0; i < 3; i++) await a.send(text("ed", "flo", `m${i}`));
    assert.equal(a.roundTrips - before, 3);
    // The process that stored them adds its count before it reads; another sees it from then on.
    assert.equal(await a.countMessages(), 3);
    assert.equal(await b.countMessages(), 3);
    // And at close.
    await b.send(text("flo", "ed", "last"));
    await b.close();
    assert.equal(await a.countMessages(), 4);
  });
});
