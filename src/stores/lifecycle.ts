import type { LifecycleStore } from "../core/ports/lifecycle.js";
import type { Store } from "../core/ports/store.js";
import { SqliteLifecycle } from "./sqlite/lifecycle.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";

/** The LifecycleStore (SPEC 13) of an open store, sharing its connection. */
export async function lifecycleOf(store: Store): Promise<LifecycleStore> {
  if (store instanceof SqliteStore) return new SqliteLifecycle(store);
  // Loaded only for Redis, as the store itself is (open-store.ts).
  const { RedisLifecycle } = await import("./redis/lifecycle.js");
  const { RedisStore } = await import("./redis/redis-store.js");
  if (store instanceof RedisStore) return new RedisLifecycle(store);
  throw new Error(`No lifecycle support for the ${store.name} store.`);
}
