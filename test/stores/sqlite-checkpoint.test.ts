import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { WalCheckpointer } from "../../src/stores/sqlite/wal-checkpointer.js";
import { sleep } from "../helpers/kit.js";

const retention = { maxEvents: 10_000, maxAgeMs: 30 * 86_400_000 };
const tempFile = () => join(mkdtempSync(join(tmpdir(), "duet-ckpt-")), "duet.db");
const size = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function sendMany(store: SqliteStore, from: string, count: number) {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      store.send({
        from,
        to: `${from}-peer-${i % 50}`,
        kind: "text",
        text: `message ${i} ${"x".repeat(100)}`,
        image: null,
        links: [],
        clientMsgId: `${from}-${i}`,
      }),
    ),
  );
}

describe("sqlite checkpoints", () => {
  it("copies the WAL into the file on its own thread, not on the event loop", async () => {
    const path = tempFile();
    const store = new SqliteStore({ path, retention });
    const fileBefore = size(path);
    await sendMany(store, "a", 500);
    assert.ok(size(`${path}-wal`) > 0, "the writes went to the WAL");
    await until("a checkpoint by the thread", () => store.checkpoints().thread > 0);
    await until("the file to grow", () => size(path) > fileBefore);
    assert.equal(store.checkpoints().loop, 0, "a small WAL is never checkpointed on the event loop");
    await store.close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.prepare("SELECT count(*) FROM messages").pluck().get(), 500);
    db.close();
  });

  it("keeps the WAL near its limit under steady writes, and loses nothing", async () => {
    const path = tempFile();
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("journal_size_limit = 0"); // a WAL starting over is cut to nothing: its size is its use
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
    const limit = 64;
    // The WAL's bound is what is written between two of the thread's passes, or `limit` frames:
    // with the short delay, `limit` is the one this test sees.
    const checkpointer = new WalCheckpointer(db, {
      path,
      synchronous: "NORMAL",
      restartFrames: limit,
      delayMs: 100,
    });
    let rows = 0;
    const turn = async () => {
      db.transaction(() => {
        for (let i = 0; i < 20; i++) insert.run(`row ${rows++} ${"y".repeat(400)}`);
      })();
      checkpointer.wrote();
      await sleep(1);
    };
    while (checkpointer.counts.thread === 0) await turn(); // the thread is up
    let largest = 0;
    let written = 0;
    const MB = 1024 * 1024;
    // Writes every turn, never idle long enough for the WAL to start over on its own.
    while ((checkpointer.counts.loop < 5 || written < 16 * MB) && written < 256 * MB) {
      const before = rows;
      await turn();
      written += (rows - before) * 420;
      largest = Math.max(largest, size(`${path}-wal`));
    }
    assert.ok(checkpointer.counts.loop >= 5, "the event loop finished checkpoints");
    // Without a start-over the WAL would hold everything written since the thread started.
    assert.ok(largest < written / 3, `WAL reached ${largest} bytes with ${written} written`);
    await checkpointer.close();
    assert.equal(db.prepare("SELECT count(*) FROM t").pluck().get(), rows);
    db.close();
  });

  it("goes back to automatic checkpoints when the thread cannot run", async () => {
    const path = tempFile();
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    // The thread opens a directory instead of the database: it fails at once.
    const checkpointer = new WalCheckpointer(db, { path: tmpdir(), synchronous: "NORMAL" });
    assert.equal(db.pragma("wal_autocheckpoint", { simple: true }), 0);
    await until("automatic checkpoints", () => db.pragma("wal_autocheckpoint", { simple: true }) === 500);
    await checkpointer.close();
    db.close();
  });

  it("refuses a second owner of the same file until the first closes", async () => {
    const path = tempFile();
    const first = new SqliteStore({ path, retention });
    await sendMany(first, "b", 3);
    assert.throws(() => new SqliteStore({ path, retention }), /Another duet process is using/);
    await first.close();
    const second = new SqliteStore({ path, retention });
    assert.equal(await second.countMessages(), 3);
    await second.close();
  });
});
