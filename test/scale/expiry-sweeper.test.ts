/**
 * SPEC 15 on Redis with two real duet processes: one sweeps at a time (the lease), both serve
 * the expired messages as tombstones, and when the sweeping process dies (SIGKILL, no goodbye)
 * the other takes over once the lease lapses; the texts end up in no key of Redis.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { Message } from "../../src/core/types.js";
import { api, type ChildDuet, tokenFor } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { startDuets, stopEverything, userName } from "./scale.js";

async function expiredCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^duet_messages_expired_total (\d+)/m.exec(text);
  return match ? Number(match[1]) : 0;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("two duet processes on one Redis: the expiry sweeper", () => {
  let redis: RedisServer;
  let duets: ChildDuet[] = [];
  before(async () => {
    redis = await startRedis();
    // Sweeps every 200 ms; the lease lasts 5 s (the server's floor) unless renewed.
    duets = await startDuets(2, redis.url, { DUET_MESSAGE_TTL_S: "1", DUET_EXPIRY_SWEEP_MS: "200" });
  });
  after(async () => {
    await stopEverything("expiry-sweeper", duets);
  });

  it("only one process sweeps; when it dies the other takes over", async () => {
    const [p0, p1] = duets as [ChildDuet, ChildDuet];
    const a = userName("ann");
    const b = userName("ben");
    const ta = await tokenFor(a);
    const tb = await tokenFor(b);
    const send = async (url: string, text: string) => {
      const r = await api(url, ta, "POST", "/v1/messages", { to: b, text });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.message as Message;
    };
    const first: Message[] = [];
    for (let i = 0; i < 6; i++) first.push(await send(i % 2 === 0 ? p0.url : p1.url, `first-SECRET-${i}`));
    await until(
      "the first sweep",
      async () => (await expiredCount(p0.url)) + (await expiredCount(p1.url)) >= 6,
    );
    const counts = [await expiredCount(p0.url), await expiredCount(p1.url)];
    // Exactly one of the two erased all of them.
    assert.deepEqual([...counts].sort(), [0, 6], JSON.stringify(counts));
    const sweeper = counts[0] === 6 ? p0 : p1;
    const other = sweeper === p0 ? p1 : p0;
    // Both serve tombstones.
    for (const url of [p0.url, p1.url]) {
      const page = await api(url, tb, "GET", `/v1/conversations/${a}/messages`);
      assert.deepEqual(
        (page.body.messages as Message[]).map((m) => m.kind),
        Array(6).fill("deleted"),
      );
    }
    // The sweeper dies without giving up its lease: the other takes over once it lapses.
    await sweeper.kill("SIGKILL");
    const second: Message[] = [];
    for (let i = 0; i < 4; i++) second.push(await send(other.url, `second-SECRET-${i}`));
    const killedAt = Date.now();
    await until("the takeover", async () => (await expiredCount(other.url)) >= 4);
    assert.ok(Date.now() - killedAt < 15_000);
    // The texts are in no key of Redis.
    const admin = new Redis(redis.url);
    try {
      for (const key of await admin.keys("duet:*")) {
        const raw = await admin.dumpBuffer(key);
        assert.ok(raw !== null && !raw.includes(Buffer.from("SECRET")), `${key} still holds a text`);
      }
      assert.equal(await admin.zcard("duet:{exp}:due"), 0);
    } finally {
      admin.disconnect();
    }
    assert.equal(second.length, 4);
  });
});
