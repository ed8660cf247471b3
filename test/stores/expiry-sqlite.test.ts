import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "../../src/core/ports/store.js";
import { conversationKey } from "../../src/stores/sqlite/schema.js";
import { SqliteStore } from "../../src/stores/sqlite/sqlite-store.js";
import { runExpiryContract } from "./expiry-contract.js";

const retention = { maxEvents: 200, maxAgeMs: 30 * 86_400_000 };

runExpiryContract("sqlite (file)", {
  makeStore: async ({ messageTtlS }) =>
    new SqliteStore({
      path: join(mkdtempSync(join(tmpdir(), "duet-expiry-")), "duet.db"),
      retention,
      ...(messageTtlS === undefined ? {} : { messageTtlS }),
    }),
  rawBody: async (store: Store, a, b, id) => {
    const db = (store as SqliteStore).db;
    const row = db
      .prepare("SELECT body FROM messages WHERE conv = ? AND id = ?")
      .pluck()
      .get(conversationKey(a, b), id);
    return (row as string | undefined) ?? null;
  },
});
