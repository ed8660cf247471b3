import { createHmac } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { DeliveryError, type OutboxHandler } from "../core/outbox/dispatcher.js";
import type { OutboxEntry } from "../core/ports/outbox.js";

export interface WebhookOptions {
  url: string;
  /** The secret's decoded bytes (config.webhookSecretBytes). */
  secret: Buffer;
  /** Per attempt (SPEC: 5 s). */
  timeoutMs: number;
  /** Connections kept open to the receiver: the dispatcher's concurrency (DUET_OUTBOX_CONCURRENCY). */
  connections: number;
}

/** How much of a receiver's answer is read (then discarded): a 10 MB answer costs no more. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** The JSON a receiver gets: `{"type","timestamp","data"}`, the same bytes on every attempt. */
export function webhookBody(entry: OutboxEntry): string {
  return `{"type":${JSON.stringify(entry.type)},"timestamp":"${new Date(entry.createdAt).toISOString()}","data":${entry.data}}`;
}

/**
 * Standard Webhooks 1.0 headers: the signature is `v1,` + base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>" keyed with the secret's bytes (what the standardwebhooks libraries
 * verify; test/offline/webhooks.test.ts checks it with Webhook.verify).
 */
export function signWebhook(
  secret: Buffer,
  id: string,
  timestamp: number,
  body: string,
): Record<string, string> {
  const signature = createHmac("sha256", secret).update(`${id}.${timestamp}.${body}`).digest("base64");
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${signature}`,
  };
}

/**
 * Reads at most MAX_ANSWER_BYTES of an answer and drops the rest: a short answer read to its end
 * leaves the connection to be reused; a longer one is cut, and its connection with it.
 */
function discard(res: IncomingMessage, done: () => void): void {
  let read = 0;
  res.on("data", (chunk: Buffer) => {
    read += chunk.byteLength;
    if (read >= MAX_ANSWER_BYTES) res.destroy();
  });
  res.on("close", done);
  res.on("error", () => {
    // The answer's body does not matter; its status was read already.
  });
}

/**
 * Delivers webhook entries: one signed POST per attempt, redirects not followed. Connections are
 * kept alive, as many as attempts can be in flight (at thousands of webhooks a second a new TCP
 * connection per delivery costs more than the delivery). node:http rather than the npm undici's
 * Agent: importing that package replaces the process's global fetch dispatcher, which Node 20's
 * own fetch (Web Push) then cannot use.
 */
export function webhookHandler(options: WebhookOptions): OutboxHandler {
  const url = new URL(options.url);
  const secure = url.protocol === "https:";
  const agentOptions = {
    keepAlive: true,
    maxSockets: Math.max(1, options.connections),
    maxFreeSockets: Math.max(1, options.connections),
  };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const send = secure ? httpsRequest : httpRequest;
  return (entry) => {
    const body = webhookBody(entry);
    const headers = signWebhook(options.secret, entry.id, Math.floor(Date.now() / 1000), body);
    return new Promise<void>((resolve, reject) => {
      let answered = false;
      const req = send(url, {
        method: "POST",
        agent,
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "user-agent": "duet-webhooks/1",
        },
      });
      // One deadline for the answer and the rest of it: a receiver that never answers, or never
      // finishes its answer, cannot hold a delivery slot or a connection past it.
      const timer = setTimeout(() => {
        req.destroy();
        if (!answered) reject(new DeliveryError(`no answer within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      timer.unref();
      req.on("error", (err) => {
        clearTimeout(timer);
        if (!answered) reject(new DeliveryError(describe(err)));
      });
      req.on("response", (res) => {
        answered = true;
        discard(res, () => clearTimeout(timer));
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) reject(new DeliveryError(`HTTP ${status}`));
        else resolve();
      });
      req.end(body);
    });
  };
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? "request failed";
}
