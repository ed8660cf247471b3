import { createPublicKey, hash, type KeyObject } from "node:crypto";
import { createVerifier } from "fast-jwt";
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
  /** The token's `iat` (seconds), or null without one: what an erase mark is compared with. */
  iat: number | null;
}

/** Who a verified token speaks for, and when it was issued. */
export interface TokenClaims {
  user: string;
  /** `iat` in seconds, null when the token has none. */
  iat: number | null;
}

const CACHE_LIMIT = 50_000;

/**
 * The cache's key for a token: its SHA-256, as a 32-character one-byte string. Keyed by the token
 * itself, the cache would keep every connected user's token string (~200 B, and the whole
 * `Authorization` header it was sliced from) for as long as the token is valid: on an idle
 * WebSocket that was the largest thing of duet's own. The digest costs ~1 µs per request and,
 * being collision-resistant, only the same token ever finds the entry.
 */
function cacheKey(token: string): string {
  return hash("sha256", token, "binary");
}

/**
 * Verifies user tokens. A verified token is remembered (by its digest, see cacheKey) until it
 * expires, so a client polling every second does not pay a signature check per request.
 */
export class Auth {
  private readonly secret?: Uint8Array;
  private readonly publicKey?: KeyObject;
  private readonly publicAlgs: string[] = [];
  private readonly cache = new Map<string, Verified>();
  private readonly fastVerify?: (token: string) => unknown;

  constructor(options: AuthOptions) {
    if (options.secret) {
      this.secret = new TextEncoder().encode(options.secret);
      this.fastVerify = createVerifier({
        key: options.secret,
        algorithms: ["HS256"],
        requiredClaims: ["exp", "sub"],
        cache: false,
      });
    }
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
    return (await this.verifyClaims(token)).user;
  }

  /** `verify`, with the token's `iat` (SPEC 15: a token issued before an erase is refused). */
  async verifyClaims(token: string): Promise<TokenClaims> {
    if (token.length > 8192) throw new DuetError("unauthorized", "The token is too long.");
    const key = cacheKey(token);
    const hit = this.cache.get(key);
    if (hit) {
      if (hit.expMs > Date.now()) return hit;
      this.cache.delete(key);
      throw new DuetError("token_expired");
    }
    const payload = await this.check(token);
    const sub = payload.sub;
    if (!isUserId(sub)) throw new DuetError("unauthorized", "The token's sub is not a valid user id.");
    if (sub === SYSTEM_USER) throw new DuetError("unauthorized", "No token may act as the system user.");
    if (typeof payload.exp !== "number") throw new DuetError("unauthorized", "The token has no exp.");
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    const iat = typeof payload.iat === "number" ? payload.iat : null;
    const verified: Verified = { user: sub, expMs: payload.exp * 1000, iat };
    this.cache.set(key, verified);
    return verified;
  }

  private async check(token: string): Promise<{ sub?: string; exp?: number; iat?: number }> {
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
   * The common case, HS256 with the shared secret, checked synchronously by fast-jwt (node:crypto's
   * HMAC, a few µs); jose goes through WebCrypto (an async job per token, 0.1-0.5 ms of CPU under
   * load), which after a restart every reconnecting client would pay at once. Only a token this
   * accepts is answered here; anything else (another alg, a bad signature, odd headers or claims)
   * goes to jose, which refuses it with its own reason. test/core/auth-hs256.test.ts holds the two
   * to the same answers.
   */
  private hs256(token: string): { sub?: string; exp?: number; iat?: number } | undefined {
    if (!this.fastVerify) return undefined;
    let payload: { sub?: unknown; exp?: unknown; iat?: unknown; nbf?: unknown };
    try {
      payload = this.fastVerify(token) as typeof payload;
    } catch {
      return undefined;
    }
    if (typeof payload.exp !== "number" || typeof payload.sub !== "string") return undefined;
    // fast-jwt passes time claims of other types; jose refuses them (with its reason).
    for (const claim of [payload.iat, payload.nbf]) {
      if (claim !== undefined && typeof claim !== "number") return undefined;
    }
    return typeof payload.iat === "number"
      ? { sub: payload.sub, exp: payload.exp, iat: payload.iat }
      : { sub: payload.sub, exp: payload.exp };
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
