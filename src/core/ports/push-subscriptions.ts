/**
 * Web Push subscriptions (SPEC section 14), stored per user by every store: the browser's
 * PushSubscription JSON, at most PUSH_SUBSCRIPTIONS_PER_USER per user, keyed by endpoint.
 * test/stores/push-contract.ts is the contract.
 */
export interface PushSubscriptionRecord {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  expirationTime: number | null;
}

export const PUSH_SUBSCRIPTIONS_PER_USER = 10;

export interface PushSubscriptions {
  /** Adds (or replaces the keys of) a subscription; "full" when the user has the maximum already. */
  addPushSubscription(user: string, sub: PushSubscriptionRecord): Promise<"added" | "updated" | "full">;
  /** Removes one; false when there was none with that endpoint. */
  removePushSubscription(user: string, endpoint: string): Promise<boolean>;
  pushSubscriptions(user: string): Promise<PushSubscriptionRecord[]>;
}

/** A store that keeps Web Push subscriptions. */
export interface PushStore {
  readonly push: PushSubscriptions;
}
