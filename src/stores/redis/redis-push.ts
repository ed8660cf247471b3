import {
  PUSH_SUBSCRIPTIONS_PER_USER,
  type PushSubscriptionRecord,
  type PushSubscriptions,
} from "../../core/ports/push-subscriptions.js";
import type { RedisClient } from "./connection.js";
import type { RedisKeys } from "./keys.js";
import type { Scripts } from "./scripts.js";

/** Web Push subscriptions on Redis: one hash per user, in the user's slot. */
export class RedisPush implements PushSubscriptions {
  private readonly client: RedisClient;
  private readonly keys: RedisKeys;
  private readonly scripts: Scripts;
  private readonly call: <T>(request: () => Promise<T>) => Promise<T>;

  constructor(
    client: RedisClient,
    keys: RedisKeys,
    scripts: Scripts,
    call: <T>(request: () => Promise<T>) => Promise<T>,
  ) {
    this.client = client;
    this.keys = keys;
    this.scripts = scripts;
    this.call = call;
  }

  async addPushSubscription(
    user: string,
    sub: PushSubscriptionRecord,
  ): Promise<"added" | "updated" | "full"> {
    const r = await this.call(() =>
      this.scripts.run(
        "duetPushAdd",
        [this.keys.user(user).push],
        [sub.endpoint, JSON.stringify(sub), PUSH_SUBSCRIPTIONS_PER_USER],
      ),
    );
    return String(r) as "added" | "updated" | "full";
  }

  async removePushSubscription(user: string, endpoint: string): Promise<boolean> {
    return (await this.call(() => this.client.hdel(this.keys.user(user).push, endpoint))) > 0;
  }

  async pushSubscriptions(user: string): Promise<PushSubscriptionRecord[]> {
    const all = await this.call(() => this.client.hvals(this.keys.user(user).push));
    return all.map((b) => JSON.parse(b) as PushSubscriptionRecord);
  }
}
