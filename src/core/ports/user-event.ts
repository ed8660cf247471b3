import type { StoredEvent } from "../types.js";

/** A stored event together with the user whose log it was appended to. */
export interface UserEvent {
  user: string;
  event: StoredEvent;
  /** `event` as JSON, when the store already made it (then it is sent as is). */
  json?: string;
  /**
   * True when the store itself already handed the event to the other processes as it committed
   * (the Redis store's send script publishes on the broker's channels): it is delivered to this
   * process's connections only, and the broker does not send it again.
   */
  published?: boolean;
}
