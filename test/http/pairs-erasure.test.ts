/**
 * SPEC 11: an unmatch erases, it does not hide. After an unmatch and a restart, neither the API
 * nor the bytes of the SQLite file (after a WAL checkpoint) nor any Redis key (DUMP of every key:
 * SCAN here, in the test only) holds the conversation's text.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { API_KEY, api, startDuet, type TestServer, tempDbUrl } from "../helpers/duet.js";
import { startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { redisHasNo, sqliteHasNo } from "../helpers/store-scan.js";
import { client, eventsOf, names } from "./util.js";

after(stopAllRedis);

/** 300 sends in a row, not rate limited. */
const FAST = { DUET_SEND_RATE: "10000", DUET_SEND_BURST: "10000" };

/** Matches two users, has them talk (text, a read, a repeat by clientMsgId) and unmatches them. */
async function talkAndUnmatch(server: TestServer, marker: string, count: number): Promise<[string, string]> {
  const [a, b, c] = names("alice", "bob", "carol");
  const alice = await client(server.url, a);
  const bob = await client(server.url, b);
  assert.equal((await api(server.url, API_KEY, "PUT", `/v1/admin/pairs/${a}/${b}`)).status, 201);
  assert.equal((await api(server.url, API_KEY, "PUT", `/v1/admin/pairs/${a}/${c}`)).status, 201);
  await alice.send(c, "an unrelated conversation");
  let last = "";
  for (let i = 0; i < count; i++) {
    const m = await (i % 2 ? bob : alice).send(i % 2 ? a : b, `${marker} number ${i}`, {
      clientMsgId: `${marker}-${i}`,
    });
    last = m.id;
  }
  await alice.call("POST", `/v1/conversations/${b}/read`, { upTo: last });
  assert.equal((await bob.call("DELETE", `/v1/pairs/${a}`)).status, 200);
  return [a, b];
}

async function apiHasNoTrace(server: TestServer, a: string, b: string, marker: string): Promise<void> {
  for (const [user, peer] of [
    [a, b],
    [b, a],
  ] as const) {
    const u = await client(server.url, user);
    const seen = JSON.stringify([
      (await u.call("GET", `/v1/conversations/${peer}/messages?limit=200`)).body,
      (await u.call("GET", "/v1/conversations")).body,
      (await u.call("GET", `/v1/conversations/${peer}/unread?markRead=false`)).body,
      await eventsOf(server.url, u.token, 0),
    ]);
    assert.ok(!seen.includes(marker), `the API still shows the text to ${user}: ${seen.slice(0, 300)}`);
    assert.ok(seen.includes("an unrelated conversation") || user === b);
  }
}

describe("unmatch erases the text from the store", () => {
  it("SQLite: not in the file after a restart and a checkpoint", async () => {
    const store = tempDbUrl();
    const marker = `ZEBRA${randomBytes(6).toString("hex")}`;
    const first = await startDuet({ DUET_STORE: store, DUET_PAIRS: "matched", ...FAST });
    const [a, b] = await talkAndUnmatch(first, marker, 300);
    await first.close();
    sqliteHasNo(store, marker, "an unrelated conversation");
    const second = await startDuet({ DUET_STORE: store, DUET_PAIRS: "matched", ...FAST });
    try {
      await apiHasNoTrace(second, a, b, marker);
    } finally {
      await second.close();
    }
  });

  it("Redis: in no key (DUMP of every key) after a restart", async () => {
    const redis = await startRedis();
    const marker = `ZEBRA${randomBytes(6).toString("hex")}`;
    const first = await startDuet({ DUET_STORE: redis.url, DUET_PAIRS: "matched", ...FAST });
    const [a, b] = await talkAndUnmatch(first, marker, 300);
    await first.close();
    await redisHasNo([redis.url], marker, "an unrelated conversation");
    const second = await startDuet({ DUET_STORE: redis.url, DUET_PAIRS: "matched", ...FAST });
    try {
      await apiHasNoTrace(second, a, b, marker);
    } finally {
      await second.close();
    }
  });
});
