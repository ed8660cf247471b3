import type { ImageRef, LinkRef, Message } from "../core/types.js";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { asClientError, DuetClientError } from "./errors.js";
import type { ConnectionState } from "./events.js";
import type { HttpApi } from "./http.js";
import type { Transport } from "./transports.js";

export interface SendInput {
  to: string;
  text?: string;
  image?: ImageRef;
  links?: LinkRef[];
  /** Makes the send idempotent; the client generates one when absent. */
  clientMsgId?: string;
}

type QueuedSend = SendInput & { clientMsgId: string };

interface Pending {
  body: QueuedSend;
  resolve(message: Message): void;
  reject(error: DuetClientError): void;
}

const RANDOM_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A random id for `clientMsgId` (works in insecure browser contexts too). */
export function createClientMsgId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let id = "";
  for (const b of bytes) id += RANDOM_ALPHABET[b % 36];
  return id;
}

/** What the outbox needs of the connection. */
export interface OutboxLink {
  readonly closed: boolean;
  readonly state: ConnectionState;
  liveWebSocket(): Transport | null;
  whenOnline(): Promise<void>;
}

/**
 * Writes that must land although the link comes and goes. Sends wait in a queue, in order, while
 * offline and are retried with the same `clientMsgId`, so the server stores each once; the other
 * writes (edit, unsend, reactions, settings, mute) are idempotent on the server and are retried
 * the same way until they land or are refused for good.
 */
export class Outbox {
  private readonly link: OutboxLink;
  private readonly api: HttpApi;
  private readonly backoff: Required<BackoffOptions>;
  private readonly requestTimeoutMs: number;
  private readonly queue: Pending[] = [];
  private flushing = false;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Failed attempts in a row of the send at the head of the queue. */
  private sendAttempt = 0;

  constructor(link: OutboxLink, api: HttpApi, backoff: Required<BackoffOptions>, requestTimeoutMs: number) {
    this.link = link;
    this.api = api;
    this.backoff = backoff;
    this.requestTimeoutMs = requestTimeoutMs;
  }

  /** Sends still waiting for the server. */
  get size(): number {
    return this.queue.length;
  }

  send(input: SendInput): Promise<Message> {
    if (this.link.closed) return Promise.reject(new DuetClientError("closed", "The client is closed."));
    const body = { ...input, clientMsgId: input.clientMsgId ?? createClientMsgId() };
    return new Promise((resolve, reject) => {
      this.queue.push({ body, resolve, reject });
      void this.flush();
    });
  }

  /** Sends the queue in order while online; a retryable failure pauses it for a backoff. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.link.closed && this.link.state === "online") {
        const item = this.queue[0];
        if (item === undefined) break;
        try {
          const message = await this.deliver(item.body);
          this.queue.shift();
          this.sendAttempt = 0;
          item.resolve(message);
        } catch (err) {
          const error = asClientError(err);
          if (this.link.closed) return;
          if (!error.retryable) {
            this.queue.shift();
            item.reject(error);
            continue;
          }
          clearTimeout(this.flushTimer);
          const delay = Math.max(error.retryAfterMs ?? 0, backoffDelay(this.sendAttempt++, this.backoff));
          this.flushTimer = setTimeout(() => void this.flush(), delay);
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Runs `call` until it succeeds or fails for good, waiting for the connection between tries. */
  async retrying<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.link.closed) throw new DuetClientError("closed", "The client is closed.");
      try {
        return await call();
      } catch (err) {
        const error = asClientError(err);
        if (!error.retryable || this.link.closed) throw error;
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, this.backoff)));
        if (this.link.state !== "online") await this.link.whenOnline().catch(() => {});
      }
    }
  }

  /** Rejects every queued send with `closed`. */
  close(): void {
    clearTimeout(this.flushTimer);
    for (const p of this.queue.splice(0)) p.reject(new DuetClientError("closed", "The client was closed."));
  }

  /** One attempt: the WebSocket's `send` op when it is live, else POST /v1/messages. */
  private async deliver(body: QueuedSend): Promise<Message> {
    const ws = this.link.liveWebSocket();
    if (ws?.request) {
      const result = await ws.request({ op: "send", ...body }, this.requestTimeoutMs);
      const message = result.message as Message | undefined;
      if (typeof message?.id !== "string")
        throw new DuetClientError("bad_response", "No message in the answer.");
      return message;
    }
    const result = await this.api.request<{ message: Message }>("POST", "/v1/messages", { body });
    return result.message;
  }
}
