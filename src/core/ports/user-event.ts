import type { StoredEvent } from "../types.js";

/** A stored event together with the user whose log it was appended to. */
export interface UserEvent {
  user: string;
  event: StoredEvent;
  /** `event` as JSON, when the store already made it (then it is sent as is). */
  json?: string;
  /**
   * Who carries the event to the other duet processes. Absent: the hub, through the broker (every
   * event, by default). "store": the store did as it committed (the Redis store's send script
   * publishes on the broker's channels), so the hub delivers it to this process's connections only.
   */
  carriedBy?: "store";
}
