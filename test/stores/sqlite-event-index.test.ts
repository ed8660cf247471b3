import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import type { SendInput } from "../../src/core/types.js";
import { EventIndex } from "../../src/stores/sqlite/event-index.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";

const text = (from: string, to: string, t: string): SendInput => ({
  from,
  to,
  kind: "text",
  text: t,
  image: null,
  links: [],
  clientMsgId: null,
});

function open(path: string, maxEvents = 1000): SqliteStore {
  return new SqliteStore({ path, retention: { maxEvents, maxAgeMs: 30 * 86_400_000 } });
}

describe("sqlite in-memory event index", () => {
  it("keeps each log's seq -> rid with holes, trimmed prefixes and cleared logs", () => {
    const db = new Database(":memory:");
    db.exec("CREATE TABLE events (rid INTEGER PRIMARY KEY, user TEXT, seq INTEGER)");
    const index = new EventIndex(db);
    for (let seq = 1; seq <= 6; seq++) index.add("a", seq, seq * 10);
    index.add("b", 4, 99);
    assert.deepEqual(index.after("a", 0, 100), [10, 20, 30, 40, 50, 60]);
    assert.deepEqual(index.after("a", 2, 2), [30, 40]);
    index.forget("a", [30, 50]);
    assert.deepEqual(index.after("a", 2, 2), [40, 60]);
    assert.equal(index.last("a"), 6);
    assert.deepEqual(index.dropUpTo("a", 3), [10, 20]);
    assert.deepEqual(index.all("a"), [40, 60]);
    assert.deepEqual(index.dropUpTo("a", 1), []);
    assert.equal(index.last("b"), 4);
    assert.deepEqual(index.clear("b"), [99]);
    assert.equal(index.last("b"), undefined);
    assert.deepEqual(index.dropUpTo("a", 6), [40, 60]);
    assert.equal(index.last("a"), undefined);
    db.close();
  });

  it("is rebuilt from the file on open: logs, heads and holes as they were, new events after the head", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "duet-sqlite-index-")), "duet.db");
    let store = open(path, 8);
    for (let i = 0; i < 12; i++) await store.send(text("a", "b", `ab ${i}`));
    await store.send(text("a", "c", "ac"));
    const m = await store.send(text("c", "a", "ca"));
    await store.markRead("a", "c", m.message.id);
    // a's log loses its events about c (holes in the middle); b's log was trimmed by count.
    await store.pairs.unmatch("a", "c", true, true);
    const before = new Map<string, Awaited<ReturnType<SqliteStore["eventsSince"]>>>();
    for (const user of ["a", "b", "c"]) before.set(user, await store.eventsSince(user, 0, 100));
    await store.close();

    const raw = new Database(path, { readonly: true });
    const indexes = raw
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")
      .all();
    raw.close();
    assert.deepEqual(indexes, [], "no on-disk (user, seq) index");

    store = open(path, 8);
    for (const user of ["a", "b", "c"])
      assert.deepEqual(await store.eventsSince(user, 0, 100), before.get(user));
    assert.equal(before.get("b")?.reset, true, "b's log was trimmed");
    const head = (await store.eventsSince("b", 0, 100)).head;
    const next = await store.send(text("a", "b", "after reopen"));
    const b = next.events.find((e) => e.user === "b");
    assert.equal(b?.event.seq, head + 1);
    const page = await store.eventsSince("b", head, 10);
    assert.deepEqual(
      page.events.map((e) => e.seq),
      [head + 1],
    );
    await store.close();
  });

  it("forgets the events of a batch that rolled back", async () => {
    const store = open(":memory:");
    await store.send(text("a", "b", "kept"));
    const x = store.internals();
    const failed = x.enqueue(() => {
      store.append("b", Date.now(), (seq) => ({ type: "read", seq, peer: "a", reader: "a", upTo: "x" }));
      throw new Error("disk gone");
    });
    await assert.rejects(failed, { code: "store_unavailable" });
    assert.deepEqual(
      (await store.eventsSince("b", 0, 10)).events.map((e) => e.type),
      ["message"],
    );
    const next = await store.send(text("a", "b", "next"));
    assert.equal(next.events.find((e) => e.user === "b")?.event.seq, 2);
    assert.deepEqual(
      (await store.eventsSince("b", 0, 10)).events.map((e) => e.seq),
      [1, 2],
    );
    await store.close();
  });
});
