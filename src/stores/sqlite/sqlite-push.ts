import type Database from "better-sqlite3";
import {
  PUSH_SUBSCRIPTIONS_PER_USER,
  type PushSubscriptionRecord,
  type PushSubscriptions,
} from "../../core/ports/push-subscriptions.js";
import { PUSH_SCHEMA } from "./sqlite-outbox.js";

/** Web Push subscriptions in the store's file (a table, written through the store's write queue). */
export class SqlitePush implements PushSubscriptions {
  private readonly write: <T>(run: () => T) => Promise<T>;
  private readonly read: <T>(run: () => T) => Promise<T>;
  private readonly stmt;

  constructor(
    db: Database.Database,
    write: <T>(run: () => T) => Promise<T>,
    read: <T>(run: () => T) => Promise<T>,
  ) {
    db.exec(PUSH_SCHEMA);
    this.write = write;
    this.read = read;
    this.stmt = {
      exists: db.prepare("SELECT 1 FROM push_subscriptions WHERE user = ? AND endpoint = ?").pluck(),
      count: db.prepare("SELECT count(*) FROM push_subscriptions WHERE user = ?").pluck(),
      upsert: db.prepare(
        `INSERT INTO push_subscriptions (user, endpoint, body, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (user, endpoint) DO UPDATE SET body = excluded.body`,
      ),
      remove: db.prepare("DELETE FROM push_subscriptions WHERE user = ? AND endpoint = ?"),
      list: db
        .prepare("SELECT body FROM push_subscriptions WHERE user = ? ORDER BY created_at, endpoint")
        .pluck(),
    };
  }

  addPushSubscription(user: string, sub: PushSubscriptionRecord): Promise<"added" | "updated" | "full"> {
    return this.write(() => {
      const exists = this.stmt.exists.get(user, sub.endpoint) !== undefined;
      if (!exists && (this.stmt.count.get(user) as number) >= PUSH_SUBSCRIPTIONS_PER_USER) return "full";
      this.stmt.upsert.run(user, sub.endpoint, JSON.stringify(sub), Date.now());
      return exists ? "updated" : "added";
    });
  }

  removePushSubscription(user: string, endpoint: string): Promise<boolean> {
    return this.write(() => this.stmt.remove.run(user, endpoint).changes > 0);
  }

  pushSubscriptions(user: string): Promise<PushSubscriptionRecord[]> {
    return this.read(() =>
      (this.stmt.list.all(user) as string[]).map((b) => JSON.parse(b) as PushSubscriptionRecord),
    );
  }
}
