import { DuetClientError } from "./errors.js";
import { TRANSPORTS, type TransportName } from "./transports.js";

/** The transports to try, best first: never empty. */
type TransportList = [TransportName, ...TransportName[]];

/**
 * Which transport to try next: the best one not refused lately. A transport the server is
 * reachable without (a proxy blocking WebSocket upgrades, buffering streams...) is skipped for a
 * while; one that worked here before gets a second chance before it is skipped.
 */
export class TransportChoice {
  private preferred: TransportList;
  private readonly hasWebSocket: boolean;
  private readonly refusedUntil = new Map<TransportName, number>();
  /** Transports that went online in this client, and those of them that failed once since. */
  private readonly workedOn = new Set<TransportName>();
  private readonly doubted = new Set<TransportName>();

  constructor(list: TransportName[], hasWebSocket: boolean) {
    this.hasWebSocket = hasWebSocket;
    this.preferred = this.check(list);
  }

  /** The transports allowed, best first. */
  get list(): TransportName[] {
    return [...this.preferred];
  }

  get best(): TransportName {
    return this.preferred[0];
  }

  /** Restricts (or widens) the list, forgetting which were refused. */
  set(list: TransportName[]): void {
    this.preferred = this.check(list);
    this.refusedUntil.clear();
  }

  usable(): TransportName[] {
    const now = Date.now();
    return this.preferred.filter((t) => (this.refusedUntil.get(t) ?? 0) <= now);
  }

  pick(): TransportName {
    const best = this.usable()[0];
    if (best !== undefined) return best;
    // Everything was refused: forget it and start again from the best.
    this.refusedUntil.clear();
    return this.preferred[0];
  }

  worked(name: TransportName): void {
    this.workedOn.add(name);
    this.doubted.delete(name);
  }

  /**
   * A transport that worked here before gets a second chance: after a network outage the probe
   * can succeed although the attempt failed only because the network was still down.
   */
  secondChance(name: TransportName): boolean {
    if (!this.workedOn.has(name) || this.doubted.has(name)) return false;
    this.doubted.add(name);
    return true;
  }

  refuse(name: TransportName, forMs: number): void {
    this.refusedUntil.set(name, Date.now() + forMs);
  }

  private check(list: TransportName[]): TransportList {
    const known = list.filter((t) => (TRANSPORTS as readonly string[]).includes(t));
    const usable = known.filter((t) => t !== "ws" || this.hasWebSocket);
    const [best, ...others] = new Set(usable);
    if (best === undefined) {
      throw new DuetClientError("invalid_input", `No usable transport in [${list.join(", ")}].`);
    }
    return [best, ...others];
  }
}
