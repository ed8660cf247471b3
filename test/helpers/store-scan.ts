/**
 * Scans of a whole store for a text, for the erasure tests: every key of Redis (DUMP, SCAN: in
 * tests only) and the bytes of a SQLite file once its WAL is checkpointed in.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { Redis } from "ioredis";

/** Every key's DUMP (uncompressed) on these nodes: none may hold `marker`; some must hold `present`. */
export async function redisHasNo(urls: string[], marker: string, present: string): Promise<void> {
  let seen = false;
  let keys = 0;
  for (const url of urls) {
    const raw = new Redis(url);
    try {
      await raw.config("SET", "rdbcompression", "no");
      let cursor = "0";
      do {
        const [next, batch] = await raw.scan(cursor, "COUNT", 1000);
        cursor = next;
        for (const key of batch) {
          keys++;
          const dump = await raw.dumpBuffer(key);
          assert.ok(dump === null || !dump.includes(marker), `${key} still holds the text`);
          if (dump?.includes(present)) seen = true;
        }
      } while (cursor !== "0");
    } finally {
      raw.disconnect();
    }
  }
  assert.ok(keys > 0 && seen, "the scan saw the keys that hold text");
}

/** The SQLite file (WAL checkpointed in) holds no `marker`, and does hold `present`. */
export function sqliteHasNo(store: string, marker: string, present: string): void {
  const path = store.slice("sqlite:".length);
  const db = new Database(path);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  for (const file of [path, `${path}-wal`]) {
    if (existsSync(file)) assert.ok(!readFileSync(file).includes(marker), `${file} still holds the text`);
  }
  assert.ok(readFileSync(path).includes(present), "the scan can see text that was not erased");
}

/** A Redis key's decoded contents as one string (hash fields, stream entries, members, value). */
export async function keyContents(redis: Redis, key: string, type: string): Promise<string> {
  if (type === "hash") return JSON.stringify(await redis.hgetall(key));
  if (type === "stream") return JSON.stringify(await redis.xrange(key, "-", "+"));
  if (type === "zset") return JSON.stringify(await redis.zrange(key, "0", "-1"));
  if (type === "set") return JSON.stringify(await redis.smembers(key));
  if (type === "string") return String(await redis.get(key));
  return "";
}
