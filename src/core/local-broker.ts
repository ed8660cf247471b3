import type { Broker, BrokerHandler, BrokerMessage } from "./ports/broker.js";

/** One process: there is nobody else to tell. */
export class LocalBroker implements Broker {
  onMessage(_handler: BrokerHandler): void {}
  publish(_user: string, _message: BrokerMessage): void {}
  subscribe(_user: string): void {}
  unsubscribe(_user: string): void {}
  async close(): Promise<void> {}
}
