import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { runStoreContract } from "./contract.js";

runStoreContract("sqlite (file)", {
  makeStore: async ({ maxEvents }) =>
    new SqliteStore({
      path: join(mkdtempSync(join(tmpdir(), "duet-sqlite-")), "duet.db"),
      retention: { maxEvents, maxAgeMs: 30 * 86_400_000 },
    }),
});

runStoreContract("sqlite (memory)", {
  makeStore: async ({ maxEvents }) =>
    new SqliteStore({ path: ":memory:", retention: { maxEvents, maxAgeMs: 30 * 86_400_000 } }),
});

describe("sqlite age retention", () => {
  it("trims events older than maxAgeMs and resets a cursor inside them, keeping messages", async () => {
    const store = new SqliteStore({ path: ":memory:", retention: { maxEvents: 1000, maxAgeMs: 60_000 } });
    const send = (text: string) =>
      store.send({ from: "a", to: "b", kind: "text", text, image: null, links: [], clientMsgId: null });
    await send("old 1");
    await send("old 2");
    store.trimByAge(Date.now() + 61_000);
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
