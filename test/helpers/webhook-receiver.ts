/** A local HTTP server standing in for an app backend that receives duet's webhooks. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { recordWebhook } from "./protocol-check.js";

export const WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  raw: string;
  body: { type: string; timestamp: string; data: Record<string, unknown> };
  /** Webhook.verify of the standardwebhooks package passed. */
  verified: boolean;
  at: number;
}

/** What to do with a request: answer a status (and optional body size), or never answer. */
export type Behaviour = { status: number; bodyBytes?: number } | "hang" | "hang-body";

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** The next answers, in order; once used up, `fallback`. */
  script: Behaviour[];
  fallback: Behaviour;
  /** Resolves when `n` requests (counting retries) have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  /** Resolves when requests with `n` distinct webhook-ids have been answered 2xx. */
  waitForIds(n: number, timeoutMs?: number): Promise<Set<string>>;
  delivered: Set<string>;
  close(): Promise<void>;
}

export async function startReceiver(port = 0, secret = WEBHOOK_SECRET): Promise<Receiver> {
  const verifier = new Webhook(secret);
  const received: Received[] = [];
  const delivered = new Set<string>();
  const waiters: (() => void)[] = [];
  const hanging = new Set<ServerResponse>();
  const receiver: Receiver = {
    url: "",
    port: 0,
    received,
    delivered,
    script: [],
    fallback: { status: 200 },
    waitFor(n, timeoutMs = 20_000) {
      return until(() => received.length >= n, timeoutMs, `${n} webhooks (got ${received.length})`).then(
        () => received,
      );
    },
    waitForIds(n, timeoutMs = 20_000) {
      return until(() => delivered.size >= n, timeoutMs, `${n} delivered ids (got ${delivered.size})`).then(
        () => delivered,
      );
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const until = (done: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (!done()) return waiters.push(check);
        clearTimeout(timer);
        resolve();
      };
      waiters.push(check);
    });
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString();
      const headers = {
        "webhook-id": String(req.headers["webhook-id"] ?? ""),
        "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
        "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
      };
      // What duet sends is checked against docs/asyncapi.json's webhooks.
      recordWebhook(raw, headers);
      let verified = false;
      try {
        verifier.verify(raw, headers);
        verified = true;
      } catch {
        verified = false;
      }
      let body: Received["body"];
      try {
        body = JSON.parse(raw) as Received["body"];
      } catch {
        body = { type: "?", timestamp: "", data: {} };
      }
      const behaviour = receiver.script.shift() ?? receiver.fallback;
      received.push({
        id: headers["webhook-id"],
        timestamp: headers["webhook-timestamp"],
        signature: headers["webhook-signature"],
        raw,
        body,
        verified,
        at: Date.now(),
      });
      if (behaviour === "hang") {
        hanging.add(res);
      } else if (behaviour === "hang-body") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("still going");
        hanging.add(res);
        if (verified) delivered.add(headers["webhook-id"]);
      } else {
        if (behaviour.status >= 200 && behaviour.status < 300 && verified)
          delivered.add(headers["webhook-id"]);
        const size = behaviour.bodyBytes ?? 0;
        res.writeHead(behaviour.status, { "content-type": "text/plain", "content-length": size });
        if (size > 0) {
          const chunk = Buffer.alloc(64 * 1024, 120);
          let left = size;
          const pump = () => {
            while (left > 0) {
              const n = Math.min(left, chunk.length);
              left -= n;
              if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
                return void res.once("drain", pump);
            }
            res.end();
          };
          res.on("error", () => {});
          pump();
        } else res.end();
      }
      for (const w of waiters.splice(0)) w();
    });
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/hooks`;
  return receiver;
}
