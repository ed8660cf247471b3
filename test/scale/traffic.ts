/** Steady traffic for the fault tests: senders that send every ~50 ms until told to stop. */

import { tokenFor } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { type PostResult, type Sent, sendUntilAccepted, track } from "./scale.js";

export interface SenderOptions {
  /** Where to send; the first is tried first, the next ones when a send must be retried. */
  bases: () => string[];
  /** Which failed attempts may be retried with the same clientMsgId. */
  retry: (r: PostResult) => boolean;
  intervalMs?: number;
}

/** One user sending to one peer, a message every `intervalMs`, each retried until accepted. */
export class SteadySender {
  readonly from: string;
  readonly to: string;
  readonly sent: Sent[] = [];
  private stopping = false;
  private loop: Promise<void> | null = null;
  private readonly options: SenderOptions;

  constructor(from: string, to: string, options: SenderOptions) {
    this.from = from;
    this.to = to;
    this.options = options;
  }

  start(): void {
    track(this);
    this.loop = this.run();
    // A failure surfaces when stop() is awaited; keep it from being an unhandled rejection meanwhile.
    this.loop.catch(() => {});
  }

  private async run(): Promise<void> {
    const token = await tokenFor(this.from);
    const interval = this.options.intervalMs ?? 50;
    for (let n = 0; !this.stopping; n++) {
      const started = Date.now();
      const sent: Sent = {
        from: this.from,
        to: this.to,
        text: `${this.from}>${this.to} ${n}`,
        clientMsgId: `${this.from}-${n}`,
        attempts: [],
      };
      this.sent.push(sent);
      await sendUntilAccepted(sent, token, this.options.bases, { retry: this.options.retry });
      await sleep(Math.max(0, interval - (Date.now() - started)));
    }
  }

  /** Messages accepted so far. */
  get accepted(): number {
    return this.sent.filter((s) => s.id !== undefined).length;
  }

  /** Every attempt so far, of every message. */
  attempts(): PostResult[] {
    return this.sent.flatMap((s) => s.attempts);
  }

  /** Stops after the message in flight is accepted; rejects if a send failed for good. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }
}
