/**
 * What a Broker carries for one user: an event already serialised for that user (sent as is to
 * each of the user's connections), an order to close the user's connections, or a hint that the
 * user's log may hold events that were never published (`sync`: each connection reads the store).
 */
export type BrokerMessage =
  | {
      kind: "event";
      seq: number | null;
      json: string;
      /** When a message was accepted (ms), for the delivery latency metric; optional on the wire. */
      sentAt?: number;
    }
  | {
      kind: "disconnect" /** Why (default: disconnected); a ban closes with user_banned (4004), an erase with user_erased (4003). */;
      reason?: DisconnectReason;
    }
  | { kind: "sync" };

/** Why a user's connections are closed on every process. */
export type DisconnectReason = "user_banned" | "user_erased";

export type BrokerHandler = (user: string, message: BrokerMessage) => void;

/**
 * Carries events between duet processes. The Hub delivers to its own connections directly and
 * publishes for the others, so a broker must never hand a process back its own publications.
 *
 * Contract:
 * - `publish` never throws and never waits on the network in the caller: a lost publication is
 *   repaired by the readers (sessions see the gap in `seq` and fetch it from the store).
 * - Messages of one `publish` caller for one user arrive in the order published.
 * - `subscribe(user)` is called when the first local connection of `user` opens, `unsubscribe`
 *   when the last one closes; a broker may use them (per-user channels) or ignore them.
 */
export interface Broker {
  /** Set once by the Hub before any publish. */
  onMessage(handler: BrokerHandler): void;
  publish(user: string, message: BrokerMessage): void;
  subscribe(user: string): void;
  unsubscribe(user: string): void;
  /**
   * Resolves once publications for `user` are sure to reach this process (the subscription is
   * acknowledged). A stream reads the store only after it, so nothing falls between the two.
   */
  whenSubscribed?(user: string): Promise<void>;
  /** `handler` runs after a loss of the broker's connection: publications meanwhile are gone. */
  onResync?(handler: () => void): void;
  close(): Promise<void>;
}
