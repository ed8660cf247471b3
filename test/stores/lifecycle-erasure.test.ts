/**
 * Unsend erases for real (SPEC 13): after it, the text is in no byte of the SQLite file (after a
 * WAL checkpoint) and in no key of Redis (every key's raw DUMP, and its readable contents).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { DEFAULT_LIMITS, editRule, reactionRule, unsendRule } from "../../src/core/lifecycle-rules.js";
import type { Store } from "../../src/core/ports/store.js";
import type { SendInput } from "../../src/core/types.js";
import { lifecycleOf } from "../../src/stores/lifecycle.js";
import { openRedisStore } from "../../src/stores/redis/redis-store.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { keyContents } from "../helpers/store-scan.js";

function text(from: string, to: string, body: string): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId: null };
}

/** Sends a few messages around a secret one (long enough for SQLite overflow pages), then unsends it. */
async function sendAndUnsend(store: Store, secret: string, edited: string): Promise<void> {
  const lc = await lifecycleOf(store);
  for (let i = 0; i < 20; i++) await store.send(text("ann", "ben", `before ${i}`));
  const sent = await store.send(text("ann", "ben", secret));
  await lc.updateMessage("ann", sent.message.id, (m) =>
    editRule(m, "ann", edited, Date.now(), DEFAULT_LIMITS),
  );
  await lc.updateMessage("ben", sent.message.id, (m) => reactionRule(m, "ben", "🔥", true, DEFAULT_LIMITS));
  for (let i = 0; i < 20; i++) await store.send(text("ben", "ann", `after ${i}`));
  const r = await lc.updateMessage("ann", sent.message.id, (m) =>
    unsendRule(m, "ann", Date.now(), DEFAULT_LIMITS),
  );
  assert.equal(r?.message.kind, "deleted");
}

// Random, so no compression (Redis DUMP compresses long strings) hides it from a byte search.
const secretOf = (tag: string) => `${tag}-SECRET-${randomBytes(6000).toString("base64")}-${tag}-END`;

describe("unsend erasure: sqlite", () => {
  it("leaves neither the text nor its edit in the database file or the WAL", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "duet-erase-")), "duet.db");
    const store = new SqliteStore({ path, retention: { maxEvents: 1000, maxAgeMs: 86_400_000 } });
    const secret = secretOf("sq1");
    await sendAndUnsend(store, secret, "EDITED-SECRET-sq1");
    store.internals().db.pragma("wal_checkpoint(TRUNCATE)");
    const file = readFileSync(path);
    assert.ok(file.includes("before 3"), "the file holds the other messages");
    assert.ok(!file.includes(secret.slice(0, 80)), "the unsent text is still in the file");
    assert.ok(!file.includes(secret.slice(4000, 4080)), "the unsent text is still in the file");
    assert.ok(!file.includes("EDITED-SECRET-sq1"), "the edited text is still in the file");
    assert.ok(!file.includes("sq1-END"));
    const wal = readFileSync(`${path}-wal`);
    assert.ok(!wal.includes("SECRET"), "the WAL still holds the text");
    await store.close();
    const closed = readFileSync(path);
    assert.ok(!closed.includes("SECRET"));
  });
});

describe("unsend erasure: redis", () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis();
  });
  after(stopAllRedis);

  it("leaves the text in no key (raw DUMP and contents)", async () => {
    const prefix = "erase1:";
    const store = await openRedisStore(server.url, {
      prefix,
      retention: { maxEvents: 1000, maxAgeMs: 86_400_000 },
    });
    const secret = secretOf("rd1");
    await sendAndUnsend(store, secret, "EDITED-SECRET-rd1");
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
        for (const needle of [
          secret.slice(0, 80),
          secret.slice(4000, 4080),
          "EDITED-SECRET-rd1",
          "rd1-END",
        ]) {
          assert.ok(
            !raw.includes(Buffer.from(needle)),
            `${key} (${type}) still holds "${needle}" in its raw bytes`,
          );
          assert.ok(!contents.includes(needle), `${key} (${type}) still holds "${needle}"`);
        }
      }
      assert.ok(sawOthers, "the other messages are still there");
    } finally {
      admin.disconnect();
      await store.close();
    }
  });
});
