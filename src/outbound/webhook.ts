import { createHmac } from "node:crypto";
import { DeliveryError, type OutboxHandler } from "../core/outbox/dispatcher.js";
import type { OutboxEntry } from "../core/ports/outbox.js";

export interface WebhookOptions {
  url: string;
  /** The secret's decoded bytes (config.webhookSecretBytes). */
  secret: Buffer;
  /** Per attempt (SPEC: 5 s). */
  timeoutMs: number;
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

/** Reads at most MAX_ANSWER_BYTES of an answer and drops the rest (and the connection with it). */
async function discard(res: Response): Promise<void> {
  const reader = res.body?.getReader();
  if (reader === undefined) return;
  let read = 0;
  try {
    while (read < MAX_ANSWER_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The answer's body does not matter; its status was read already.
  }
}

/** Delivers webhook entries: one signed POST per attempt, redirects not followed. */
export function webhookHandler(options: WebhookOptions): OutboxHandler {
  return async (entry) => {
    const body = webhookBody(entry);
    const headers = signWebhook(options.secret, entry.id, Math.floor(Date.now() / 1000), body);
    const signal = AbortSignal.timeout(options.timeoutMs);
    let res: Response;
    try {
      res = await fetch(options.url, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "user-agent": "duet-webhooks/1" },
        body,
        redirect: "manual",
        signal,
      });
    } catch (err) {
      const name = (err as Error).name;
      throw new DeliveryError(
        name === "TimeoutError" || name === "AbortError"
          ? `no answer within ${options.timeoutMs} ms`
          : `${describe(err)}`,
      );
    }
    // The rest of the answer is read within the same deadline, in the background: a receiver that
    // never closes cannot hold a delivery slot past it.
    void discard(res);
    if (res.status < 200 || res.status > 299) throw new DeliveryError(`HTTP ${res.status}`);
  };
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? "request failed";
}
