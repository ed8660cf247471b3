/**
 * Auth checks HS256 tokens with fast-jwt (node:crypto's HMAC, a few microseconds; after a restart every
 * reconnecting client's token is new to the cache) and leaves every other token to jose. The two
 * must agree: each token here is given to Auth and to jose's jwtVerify directly, and either both
 * accept it (for the same user) or both refuse it.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { jwtVerify, SignJWT } from "jose";
import { Auth } from "../../src/core/auth.js";
import { DuetError } from "../../src/core/errors.js";

const SECRET = "auth-hs256-test-secret-0123456789abcdef";
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A JWT signed by hand with HMAC-SHA256 over exactly the given header and payload segments. */
function handSigned(header: string, payload: string, secret = SECRET): string {
  const mac = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${mac}`;
}

async function joseSays(token: string): Promise<string> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      requiredClaims: ["exp", "sub"],
    });
    return `ok:${String(payload.sub)}`;
  } catch (err) {
    return (err as { code?: string }).code === "ERR_JWT_EXPIRED" ? "token_expired" : "refused";
  }
}

async function authSays(auth: Auth, token: string): Promise<string> {
  try {
    return `ok:${await auth.verify(token)}`;
  } catch (err) {
    assert.ok(err instanceof DuetError, String(err));
    return err.code === "token_expired" ? "token_expired" : "refused";
  }
}

describe("HS256 tokens: Auth's HMAC path agrees with jose", () => {
  it("on valid, forged, expired, not-yet-valid and oddly shaped tokens", async () => {
    const exp = now() + 600;
    const good = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setExpirationTime(exp)
      .sign(key);
    const [h, p, s] = good.split(".") as [string, string, string];
    const flip = (sig: string) => (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    const cases: Record<string, string> = {
      valid: good,
      "valid, typ and kid": handSigned(
        b64({ alg: "HS256", typ: "JWT", kid: "k1" }),
        b64({ sub: "bob", exp }),
      ),
      "valid with iat": handSigned(b64({ alg: "HS256" }), b64({ sub: "carol", exp, iat: now() })),
      "valid with a past nbf": handSigned(b64({ alg: "HS256" }), b64({ sub: "dave", exp, nbf: now() - 5 })),
      "wrong secret": handSigned(h, p, `${SECRET}-not`),
      "forged payload": `${h}.${b64({ sub: "mallory", exp })}.${s}`,
      "flipped signature": `${h}.${p}.${flip(s)}`,
      "signature with a character more": `${h}.${p}.${s}A`,
      "signature cut short": `${h}.${p}.${s.slice(0, -2)}`,
      "signature in base64 (not url)": `${h}.${p}.${Buffer.from(s, "base64url").toString("base64")}`,
      "payload with a dangling character": handSigned(h, `${p}A`),
      "alg none": `${b64({ alg: "none" })}.${p}.`,
      "alg HS512": handSigned(b64({ alg: "HS512" }), p),
      "crit header": handSigned(b64({ alg: "HS256", crit: ["exp"] }), p),
      "b64 false": handSigned(b64({ alg: "HS256", b64: false, crit: ["b64"] }), p),
      "array header": handSigned(Buffer.from("[]").toString("base64url"), p),
      "array payload": handSigned(h, Buffer.from("[1]").toString("base64url")),
      "payload not JSON": handSigned(h, Buffer.from("{sub").toString("base64url")),
      expired: handSigned(h, b64({ sub: "alice", exp: now() - 10 })),
      "expires this second": handSigned(h, b64({ sub: "alice", exp: now() })),
      "string exp": handSigned(h, b64({ sub: "alice", exp: String(exp) })),
      "missing exp": handSigned(h, b64({ sub: "alice" })),
      "missing sub": handSigned(h, b64({ exp })),
      "future nbf": handSigned(h, b64({ sub: "alice", exp, nbf: now() + 300 })),
      "string nbf": handSigned(h, b64({ sub: "alice", exp, nbf: "0" })),
      "string iat": handSigned(h, b64({ sub: "alice", exp, iat: "now" })),
      "two parts": `${h}.${p}`,
      "four parts": `${good}.x`,
      "bad characters": `${h}.${p}.${s.slice(0, -1)}!`,
    };
    for (const [what, token] of Object.entries(cases)) {
      // A fresh Auth each time: nothing remembered from an earlier case.
      const auth = new Auth({ secret: SECRET });
      const jose = await joseSays(token);
      assert.equal(await authSays(auth, token), jose, what);
      // The HMAC path itself: what it accepts, jose accepts for the same user; the plain valid
      // cases are its to accept; anything else it leaves to jose (which may still take, say, a
      // signature spelled in base64 rather than base64url).
      const fast = (auth as unknown as { hs256(t: string): { sub?: string } | undefined }).hs256(token);
      if (fast !== undefined) assert.equal(`ok:${fast.sub}`, jose, what);
      if (what.startsWith("valid")) assert.notEqual(fast, undefined, what);
    }
  });
});
