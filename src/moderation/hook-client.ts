import { randomUUID } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Webhook } from "standardwebhooks";
import {
  ModerationFailure,
  type ModerationRequest,
  type ModerationVerdict,
  type Moderator,
  parseVerdict,
} from "../core/safety/moderation.js";

export interface HookClientOptions {
  /** DUET_MODERATION_URL (http or https). */
  url: string;
  /** DUET_WEBHOOK_SECRET: `whsec_<base64>`; each request is signed with it (Standard Webhooks). */
  secret: string;
  /** DUET_MODERATION_TIMEOUT_MS: the whole exchange, connection to last byte. */
  timeoutMs: number;
  /** Longest text a rewrite may return (DUET_MAX_TEXT_LENGTH). */
  maxText: number;
  /** Largest answer read, in bytes (default 64 KiB); a longer one is a failure. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE = 64 * 1024;

/**
 * The moderation hook over HTTP (SPEC 12): one signed POST per send or edit, over kept-alive
 * connections with no cap on how many run at once, so a slow answer holds only its own send.
 * A redirect is not followed (it is a failure: the hook's URL is configuration, not something
 * the hook may move), nor is an answer read past its size limit.
 */
export class HookClient implements Moderator {
  private readonly url: URL;
  private readonly signer: Webhook;
  private readonly timeoutMs: number;
  private readonly maxText: number;
  private readonly maxResponse: number;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  constructor(options: HookClientOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== "http:" && this.url.protocol !== "https:")
      throw new Error("DUET_MODERATION_URL must be an http(s) URL");
    this.signer = new Webhook(options.secret);
    this.timeoutMs = options.timeoutMs;
    this.maxText = options.maxText;
    this.maxResponse = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE;
    const https = this.url.protocol === "https:";
    this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.send = https ? httpsRequest : httpRequest;
  }

  moderate(request: ModerationRequest): Promise<ModerationVerdict> {
    const body = JSON.stringify(request);
    const id = `msg_${randomUUID()}`;
    const now = new Date();
    const headers = {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": this.signer.sign(id, now, body),
      "user-agent": "duet-moderation/1",
    };
    return new Promise<ModerationVerdict>((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(new ModerationFailure(why));
      };
      const req = this.send(this.url, { method: "POST", headers, agent: this.agent }, (res) =>
        this.read(res, fail, (verdict) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(verdict);
        }),
      );
      const timer = setTimeout(() => fail(`no answer within ${this.timeoutMs} ms`), this.timeoutMs);
      req.on("error", (err) => fail(err.message));
      req.end(body);
    });
  }

  private read(
    res: IncomingMessage,
    fail: (why: string) => void,
    done: (v: ModerationVerdict) => void,
  ): void {
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      res.resume();
      fail(`status ${status}`);
      return;
    }
    const declared = Number(res.headers["content-length"]);
    if (declared > this.maxResponse) {
      fail(`answer of ${declared} bytes is over ${this.maxResponse}`);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.maxResponse) fail(`answer over ${this.maxResponse} bytes`);
      else chunks.push(chunk);
    });
    res.on("error", (err) => fail(err.message));
    res.on("aborted", () => fail("answer cut off"));
    res.on("end", () => {
      if (size > this.maxResponse) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        fail("the answer is not JSON");
        return;
      }
      try {
        done(parseVerdict(parsed, this.maxText));
      } catch (err) {
        fail((err as Error).message);
      }
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
