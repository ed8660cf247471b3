import type { ExpiryStore } from "../core/ports/expiry.js";
import type { Store } from "../core/ports/store.js";
import { SqliteExpiry } from "./sqlite/expiry.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";

/** The ExpiryStore (SPEC 15) of an open store, sharing its connection. */
export async function expiryOf(store: Store, options: { leaseMs?: number } = {}): Promise<ExpiryStore> {
  if (store instanceof SqliteStore) return new SqliteExpiry(store);
  // Loaded only for Redis, as the store itself is (open-store.ts).
  const { RedisExpiry } = await import("./redis/expiry.js");
  const { RedisStore } = await import("./redis/redis-store.js");
  if (store instanceof RedisStore) return new RedisExpiry(store, options);
  throw new Error(`No expiry support for the ${store.name} store.`);
}
