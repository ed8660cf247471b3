import { createHmac, createPublicKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { DuetError } from "./errors.js";
import { isUserId, SYSTEM_USER } from "./validate.js";

export interface AuthOptions {
  /** HS256 secret shared with the app backend (also what minted tokens are signed with). */
  secret?: string;
  /** PEM public key for RS256/ES256 tokens. */
  publicKeyPem?: string;
}

interface Verified {
  user: string;
  expMs: number;
}

const CACHE_LIMIT = 50_000;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Header parameters jose ignores for a secret key; any other (crit, b64, ...) is left to jose. */
const PLAIN_HEADER = new Set(["alg", "typ", "kid"]);

function decodeJson(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Verifies user tokens. A verified token is remembered until it expires, so a client polling
 * every second does not pay a signature check per request.
 */
export class Auth {
  private readonly secret?: Uint8Array;
  private readonly publicKey?: KeyObject;
  private readonly publicAlgs: string[] = [];
  private readonly cache = new Map<string, Verified>();

  constructor(options: AuthOptions) {
    if (options.secret) this.secret = new TextEncoder().encode(options.secret);
    if (options.publicKeyPem) {
      this.publicKey = createPublicKey(options.publicKeyPem);
      this.publicAlgs = this.publicKey.asymmetricKeyType === "ec" ? ["ES256"] : ["RS256"];
    }
    if (!this.secret && !this.publicKey) {
      throw new Error("Set DUET_JWT_SECRET or DUET_JWT_PUBLIC_KEY (or run with --dev).");
    }
  }

  /** Returns the user id of a valid token; throws unauthorized/token_expired otherwise. */
  async verify(token: string): Promise<string> {
    const hit = this.cache.get(token);
    if (hit) {
      if (hit.expMs > Date.now()) return hit.user;
      this.cache.delete(token);
      throw new DuetError("token_expired");
    }
    if (token.length > 8192) throw new DuetError("unauthorized", "The token is too long.");
    const payload = await this.check(token);
    const sub = payload.sub;
    if (!isUserId(sub)) throw new DuetError("unauthorized", "The token's sub is not a valid user id.");
    if (sub === SYSTEM_USER) throw new DuetError("unauthorized", "No token may act as the system user.");
    if (typeof payload.exp !== "number") throw new DuetError("unauthorized", "The token has no exp.");
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(token, { user: sub, expMs: payload.exp * 1000 });
    return sub;
  }

  private async check(token: string): Promise<{ sub?: string; exp?: number }> {
    const fast = this.hs256(token);
    if (fast) return fast;
    let lastError: unknown;
    for (const [key, algorithms] of this.keys()) {
      try {
        const { payload } = await jwtVerify(token, key, { algorithms, requiredClaims: ["exp", "sub"] });
        return payload;
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) throw new DuetError("token_expired");
        lastError = err;
      }
    }
    const reason = lastError instanceof Error && "code" in lastError ? ` (${String(lastError.code)})` : "";
    throw new DuetError("unauthorized", `The token is not valid${reason}.`);
  }

  /**
   * The common case, HS256 with the shared secret, checked with node:crypto's HMAC in a few
   * microseconds; jose goes through WebCrypto (an async job per token, 0.1-0.5 ms of CPU under
   * load), which after a restart every reconnecting client would pay at once. Only a token this
   * accepts is answered here, with the claim checks jose makes (exp and sub present, exp in the
   * future, nbf past, iat a number); anything else (another alg, a bad signature, odd headers or
   * claims) goes to jose, which refuses it with its own reason.
   */
  private hs256(token: string): { sub?: string; exp?: number } | undefined {
    if (!this.secret) return undefined;
    const parts = token.split(".");
    if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p) && p.length % 4 !== 1)) return undefined;
    const [head, body, signature] = parts as [string, string, string];
    const header = decodeJson(head);
    if (typeof header !== "object" || header === null || Array.isArray(header)) return undefined;
    const keys = Object.keys(header);
    if ((header as { alg?: unknown }).alg !== "HS256" || keys.some((k) => !PLAIN_HEADER.has(k)))
      return undefined;
    const mac = createHmac("sha256", this.secret).update(`${head}.${body}`).digest();
    const given = Buffer.from(signature, "base64url");
    // Canonical encoding only, as jose decodes: the same signature spelled differently is refused.
    if (given.length !== mac.length || given.toString("base64url") !== signature) return undefined;
    if (!timingSafeEqual(given, mac)) return undefined;
    const payload = decodeJson(body);
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
    const claims = payload as { sub?: unknown; exp?: unknown; nbf?: unknown; iat?: unknown };
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== "number" || claims.exp <= now || !("sub" in claims)) return undefined;
    if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > now)) return undefined;
    if (claims.iat !== undefined && typeof claims.iat !== "number") return undefined;
    return { sub: claims.sub as string | undefined, exp: claims.exp };
  }

  private *keys(): Generator<[Uint8Array | KeyObject, string[]]> {
    if (this.secret) yield [this.secret, ["HS256"]];
    if (this.publicKey) yield [this.publicKey, this.publicAlgs];
  }

  /** Signs a token for `user` with the shared secret (server API and dev mode). */
  async mint(user: string, ttlSeconds: number): Promise<{ token: string; expiresAt: number }> {
    if (!this.secret)
      throw new DuetError("conflict", "Minting needs DUET_JWT_SECRET (only a public key is set).");
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(this.secret);
    return { token, expiresAt: exp * 1000 };
  }
}
