import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
