/**
 * Expiry erases for real (SPEC 15): after a sweep, an expired message's text is in no byte of the
 * SQLite file (after a WAL checkpoint) and in no key of Redis (raw DUMP and contents); and on Redis
 * one sweeper at a time holds the lease, another takes over when it gives it up or dies.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { Store } from "../../src/core/ports/store.js";
import type { Message, SendInput } from "../../src/core/types.js";
import { expiryOf } from "../../src/stores/expiry.js";
import type { RedisExpiry } from "../../src/stores/redis/expiry.js";
import { openRedisStore } from "../../src/stores/redis/redis-store.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { keyContents } from "../helpers/store-scan.js";

function text(from: string, to: string, body: string): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId: null };
}

// Random, so no compression (Redis DUMP compresses long strings) hides it from a byte search.
const secretOf = (tag: string) => `${tag}-SECRET-${randomBytes(6000).toString("base64")}-${tag}-END`;

/**
 * Plain messages around expiring ones: `plain` keeps messages forever, `expiring` (the same data)
 * has the server default of 1 s. Returns the expiring messages, once they have expired.
 */
async function sendAround(plain: Store, expiring: Store, secrets: string[]): Promise<Message[]> {
  for (let i = 0; i < 10; i++) await plain.send(text("ann", "ben", `before ${i}`));
  const sent: Message[] = [];
  for (const secret of secrets) sent.push((await expiring.send(text("ann", "ben", secret))).message);
  for (let i = 0; i < 10; i++) await plain.send(text("ben", "ann", `after ${i}`));
  const last = sent.at(-1)?.expiresAt ?? 0;
  await sleep(last - Date.now() + 50);
  return sent;
}

describe("expiry erasure: sqlite", () => {
  it("leaves the text in no byte of the database file or the WAL, after the sweep", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "duet-expire-")), "duet.db");
    const retention = { maxEvents: 1000, maxAgeMs: 86_400_000 };
    // One file, two owners in turn: messages that stay, then (reopened with a default ttl) ones that expire.
    const first = new SqliteStore({ path, retention });
    for (let i = 0; i < 10; i++) await first.send(text("ann", "ben", `before ${i}`));
    await first.close();
    const store = new SqliteStore({ path, retention, messageTtlS: 1 });
    const secrets = [secretOf("sq1"), secretOf("sq2")];
    const sent: Message[] = [];
    for (const secret of secrets) sent.push((await store.send(text("ann", "ben", secret))).message);
    await sleep((sent.at(-1)?.expiresAt ?? 0) - Date.now() + 50);
    const expiry = await expiryOf(store);
    assert.deepEqual(await expiry.sweep(Date.now(), 100), { erased: 2, more: false });
    store.internals().db.pragma("wal_checkpoint(TRUNCATE)");
    const file = readFileSync(path);
    assert.ok(file.includes("before 3"), "the file holds the other messages");
    for (const secret of secrets) {
      assert.ok(!file.includes(secret.slice(0, 80)), "the expired text is still in the file");
      assert.ok(!file.includes(secret.slice(4000, 4080)), "the expired text is still in the file");
    }
    assert.ok(!readFileSync(`${path}-wal`).includes("SECRET"), "the WAL still holds the text");
    await store.close();
    assert.ok(!readFileSync(path).includes("SECRET"));
  });
});

describe("expiry on redis: erasure and one sweeper at a time", () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis();
  });
  after(stopAllRedis);
  const retention = { maxEvents: 1000, maxAgeMs: 86_400_000 };

  it("leaves the text in no key (raw DUMP and contents) after the sweep", async () => {
    const prefix = "expire1:";
    const plain = await openRedisStore(server.url, { prefix, retention });
    const expiring = await openRedisStore(server.url, { prefix, retention, messageTtlS: 1 });
    const secrets = [secretOf("rd1"), secretOf("rd2")];
    await sendAround(plain, expiring, secrets);
    const expiry = await expiryOf(expiring);
    assert.deepEqual(await expiry.sweep(Date.now(), 100), { erased: 2, more: false });
    const admin = new Redis(server.url);
    try {
      const keys = await admin.keys(`${prefix}*`);
      assert.ok(keys.length > 5);
      let sawOthers = false;
      for (const key of keys) {
        const raw = await admin.dumpBuffer(key);
        assert.ok(raw !== null);
        const type = await admin.type(key);
        const contents = await keyContents(admin, key, type);
        if (contents.includes("before 3")) sawOthers = true;
        for (const needle of secrets.flatMap((s) => [s.slice(0, 80), s.slice(4000, 4080)])) {
          assert.ok(
            !raw.includes(Buffer.from(needle)),
            `${key} (${type}) still holds the text in its raw bytes`,
          );
          assert.ok(!contents.includes(needle), `${key} (${type}) still holds the text`);
        }
      }
      assert.ok(sawOthers, "the other messages are still there");
      // The index and the conversation's exp set are empty again.
      assert.equal(await admin.zcard(`${prefix}{exp}:due`), 0);
      assert.equal(await admin.zcard(`${prefix}{c:ann|ben}:exp`), 0);
    } finally {
      admin.disconnect();
      await expiry.close?.();
      await plain.close();
      await expiring.close();
    }
  });

  it("only the lease holder sweeps; another takes over when it gives up the lease or it lapses", async () => {
    const prefix = "expire2:";
    const one = await openRedisStore(server.url, { prefix, retention, messageTtlS: 1 });
    const two = await openRedisStore(server.url, { prefix, retention, messageTtlS: 1 });
    const e1 = (await expiryOf(one, { leaseMs: 2500 })) as RedisExpiry;
    const e2 = (await expiryOf(two, { leaseMs: 2500 })) as RedisExpiry;
    const admin = new Redis(server.url);
    const expireSome = async (n: number) => {
      let last = 0;
      for (let i = 0; i < n; i++)
        last = (await one.send(text("cat", "dan", `m ${i}`))).message.expiresAt ?? 0;
      await sleep(last - Date.now() + 50);
    };
    try {
      await expireSome(3);
      assert.deepEqual(await e1.sweep(Date.now(), 100), { erased: 3, more: false });
      assert.equal(await admin.get(`${prefix}{exp}:lease`), e1.holder);
      await expireSome(2);
      // e1 holds the lease: e2 erases nothing, and the entries wait for e1.
      assert.deepEqual(await e2.sweep(Date.now(), 100), { erased: 0, more: false });
      assert.equal(await admin.zcard(`${prefix}{exp}:due`), 2);
      assert.deepEqual(await e1.sweep(Date.now(), 100), { erased: 2, more: false });
      // e1 stops cleanly: the lease is given up, e2 takes over at once.
      await e1.close();
      await expireSome(1);
      assert.deepEqual(await e2.sweep(Date.now(), 100), { erased: 1, more: false });
      assert.equal(await admin.get(`${prefix}{exp}:lease`), e2.holder);
      // e2 "dies" (stops renewing without giving it up): e1's sweeps erase nothing until it lapses.
      const e3 = (await expiryOf(one, { leaseMs: 2500 })) as RedisExpiry;
      await expireSome(1);
      assert.deepEqual(await e3.sweep(Date.now(), 100), { erased: 0, more: false });
      await sleep(2600);
      assert.deepEqual(await e3.sweep(Date.now(), 100), { erased: 1, more: false });
      assert.equal(await admin.get(`${prefix}{exp}:lease`), e3.holder);
      await e3.close();
    } finally {
      admin.disconnect();
      await one.close();
      await two.close();
    }
  });
});
