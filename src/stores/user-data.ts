import type { Store } from "../core/ports/store.js";
import type { UserDataStore } from "../core/ports/user-data.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import { SqliteUserData } from "./sqlite/user-data.js";

/** The UserDataStore (SPEC 15) of an open store, sharing its connection. */
export async function userDataOf(store: Store): Promise<UserDataStore> {
  if (store instanceof SqliteStore) return new SqliteUserData(store);
  // Loaded only for Redis, as the store itself is (open-store.ts).
  const { RedisUserData } = await import("./redis/user-data.js");
  const { RedisStore } = await import("./redis/redis-store.js");
  if (store instanceof RedisStore) return new RedisUserData(store);
  throw new Error(`No user data support for the ${store.name} store.`);
}
