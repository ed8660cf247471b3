import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { runBansContract } from "./bans-contract.js";
import { runStoreContract } from "./contract.js";
import { runLifecycleContract } from "./lifecycle-contract.js";
import { runOutboxContract, runPushContract } from "./outbox-contract.js";
import { runPairsContract } from "./pairs-contract.js";
import { runReportsContract } from "./reports-contract.js";

runStoreContract("sqlite (file)", {
  makeStore: async ({ maxEvents }) =>
    new SqliteStore({
      path: join(mkdtempSync(join(tmpdir(), "duet-sqlite-")), "duet.db"),
      retention: { maxEvents, maxAgeMs: 30 * 86_400_000 },
    }),
});

runLifecycleContract("sqlite (file)", ({ maxEvents }) =>
  Promise.resolve(
    new SqliteStore({
      path: join(mkdtempSync(join(tmpdir(), "duet-sqlite-")), "duet.db"),
      retention: { maxEvents, maxAgeMs: 30 * 86_400_000 },
    }),
  ),
);

runStoreContract("sqlite (memory)", {
  makeStore: async ({ maxEvents }) =>
    new SqliteStore({ path: ":memory:", retention: { maxEvents, maxAgeMs: 30 * 86_400_000 } }),
});

runBansContract(
  "sqlite",
  async () => new SqliteStore({ path: ":memory:", retention: { maxEvents: 100, maxAgeMs: 30 * 86_400_000 } }),
);
runReportsContract(
  "sqlite",
  async () => new SqliteStore({ path: ":memory:", retention: { maxEvents: 100, maxAgeMs: 30 * 86_400_000 } }),
);

runPairsContract("sqlite (file)", {
  makeStore: async ({ maxEvents, pairs }) =>
    new SqliteStore({
      path: join(mkdtempSync(join(tmpdir(), "duet-sqlite-")), "duet.db"),
      retention: { maxEvents, maxAgeMs: 30 * 86_400_000 },
      pairs,
    }),
});
runOutboxContract(
  "sqlite",
  async () =>
    new SqliteStore({
      path: join(mkdtempSync(join(tmpdir(), "duet-sqlite-")), "duet.db"),
      retention: { maxEvents: 100, maxAgeMs: 30 * 86_400_000 },
    }),
);

runPushContract(
  "sqlite",
  async () => new SqliteStore({ path: ":memory:", retention: { maxEvents: 100, maxAgeMs: 30 * 86_400_000 } }),
);

describe("sqlite age retention", () => {
  it("trims events older than maxAgeMs and resets a cursor inside them, keeping messages", async () => {
    const store = new SqliteStore({ path: ":memory:", retention: { maxEvents: 1000, maxAgeMs: 60_000 } });
    const send = (text: string) =>
      store.send({ from: "a", to: "b", kind: "text", text, image: null, links: [], clientMsgId: null });
    await send("old 1");
    await send("old 2");
    store.trimByAge(Date.now() + 61_000);
    // Everything was trimmed: a cursor at the head is still whole.
    assert.deepEqual(await store.eventsSince("b", 2, 100), { events: [], head: 2, reset: false });
    assert.equal((await store.eventsSince("b", 1, 100)).reset, true);
    await send("new");
    const page = await store.eventsSince("b", 0, 100);
    assert.equal(page.reset, true);
    const fromFloor = await store.eventsSince("b", 2, 100);
    assert.deepEqual(
      fromFloor.events.map((e) => e.seq),
      [3],
    );
    assert.equal((await store.history("a", "b", { limit: 10 })).messages.length, 3);
    await store.close();
  });
});

describe("sqlite files from an older duet", () => {
  it("opens a file whose events hold message bodies, replays them, and appends new ones", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "duet-sqlite-old-")), "duet.db");
    // The schema as it was before message events referred to their message row.
    const old = new Database(path);
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO meta VALUES ('epoch', 'old-epoch');
      CREATE TABLE messages (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, conv TEXT NOT NULL,
        sender TEXT NOT NULL, ts INTEGER NOT NULL, client_msg_id TEXT, body TEXT NOT NULL);
      CREATE TABLE events (rid INTEGER PRIMARY KEY, user TEXT NOT NULL, seq INTEGER NOT NULL,
        ts INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE UNIQUE INDEX events_by_user ON events (user, seq);
    `);
    const message = {
      id: "01JAAAAAAAAAAAAAAAAAAAAAAA",
      from: "a",
      to: "b",
      ts: 1,
      kind: "text",
      text: "from before",
      image: null,
      links: [],
      clientMsgId: null,
    };
    const body = JSON.stringify(message);
    old
      .prepare(
        "INSERT INTO messages (id, conv, sender, ts, client_msg_id, body) VALUES (?, 'a b', 'a', 1, NULL, ?)",
      )
      .run(message.id, body);
    const event = { type: "message", seq: 1, message };
    old.prepare("INSERT INTO events (user, seq, ts, body) VALUES ('b', 1, 1, ?)").run(JSON.stringify(event));
    old.close();

    const store = new SqliteStore({ path, retention: { maxEvents: 1000, maxAgeMs: 30 * 86_400_000 } });
    assert.equal(store.epoch, "old-epoch");
    const sent = await store.send({
      from: "a",
      to: "b",
      kind: "text",
      text: "after",
      image: null,
      links: [],
      clientMsgId: null,
    });
    const page = await store.eventsSince("b", 0, 10);
    assert.deepEqual(page.events, [event, sent.events.find((e) => e.user === "b")!.event]);
    assert.equal(page.head, 2);
    await store.close();
  });
});
