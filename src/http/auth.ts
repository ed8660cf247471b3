import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Auth, TokenClaims } from "../core/auth.js";
import { DuetError } from "../core/errors.js";
import type { RequestUrl } from "./request-url.js";

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new DuetError("unauthorized", "Use Authorization: Bearer <token>.");
  return match[1];
}

/**
 * The user a request acts as. `?token=` is accepted only where browsers cannot set headers
 * (WebSocket, EventSource), so tokens do not end up in ordinary request logs.
 */
export async function authenticate(
  auth: Auth,
  req: IncomingMessage,
  url: RequestUrl,
  allowQuery = false,
): Promise<string> {
  return (await authenticateClaims(auth, req, url, allowQuery)).user;
}

/** `authenticate`, with the token's `iat` (for the erase marks, SPEC 15). */
export async function authenticateClaims(
  auth: Auth,
  req: IncomingMessage,
  url: RequestUrl,
  allowQuery = false,
): Promise<TokenClaims> {
  const token = bearer(req) ?? (allowQuery ? (url.searchParams.get("token") ?? undefined) : undefined);
  if (token === undefined) throw new DuetError("unauthorized");
  return auth.verifyClaims(token);
}

/** The server API key check, in constant time. */
export function requireApiKey(apiKey: string | undefined, req: IncomingMessage): void {
  if (apiKey === undefined) throw new DuetError("not_found", "The server API is disabled: set DUET_API_KEY.");
  const given = bearer(req);
  if (given === undefined)
    throw new DuetError("unauthorized", "The server API needs Authorization: Bearer <DUET_API_KEY>.");
  const a = Buffer.from(given);
  const b = Buffer.from(apiKey);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new DuetError("unauthorized", "Wrong API key.");
}
