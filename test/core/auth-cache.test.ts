/**
 * Auth remembers a verified token until it expires, keyed by the token's SHA-256 rather than the
 * token: an idle connection's cache entry keeps no copy of its token (nor of the header it was
 * cut from). Only the very same token finds the entry, and a remembered token still expires.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { Auth } from "../../src/core/auth.js";
import { DuetError } from "../../src/core/errors.js";

const SECRET = "auth-cache-test-secret-0123456789abcdef";
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const header = b64({ alg: "HS256", typ: "JWT" });

function signed(payload: Record<string, unknown>, secret = SECRET): string {
  const body = b64(payload);
  const mac = createHmac("sha256", secret).update(`${header}.${body}`).digest("base64url");
  return `${header}.${body}.${mac}`;
}

/** The cache's keys (a private field: what it holds is the point of this test). */
function cacheKeys(auth: Auth): string[] {
  return [...(auth as unknown as { cache: Map<string, unknown> }).cache.keys()];
}

async function outcome(auth: Auth, token: string): Promise<string> {
  try {
    return `ok:${await auth.verify(token)}`;
  } catch (err) {
    return err instanceof DuetError ? err.code : "threw";
  }
}

describe("Auth's verified-token cache", () => {
  it("holds a digest per token, never the token", async () => {
    const auth = new Auth({ secret: SECRET });
    const now = Math.floor(Date.now() / 1000);
    const users = ["alice", "bob", "carol"];
    const tokens = users.map((sub) => signed({ sub, iat: now, exp: now + 600 }));
    for (const [i, token] of tokens.entries()) assert.equal(await outcome(auth, token), `ok:${users[i]}`);
    const keys = cacheKeys(auth);
    assert.equal(keys.length, 3);
    for (const key of keys) {
      assert.equal(key.length, 32, "a SHA-256 digest, one character per byte");
      for (const token of tokens) {
        assert.ok(!token.includes(key) && !key.includes(token.slice(0, 16)), "no token text in a key");
      }
    }
    // A hit answers the same claims, and adds nothing.
    assert.deepEqual(await auth.verifyClaims(tokens[0] ?? ""), {
      user: "alice",
      expMs: (now + 600) * 1000,
      iat: now,
    });
    assert.equal(cacheKeys(auth).length, 3);
  });

  it("finds the entry only for the very same token", async () => {
    const auth = new Auth({ secret: SECRET });
    const now = Math.floor(Date.now() / 1000);
    const good = signed({ sub: "alice", exp: now + 600 });
    assert.equal(await outcome(auth, good), "ok:alice");
    const [h, p, s] = good.split(".") as [string, string, string];
    // The same header and payload under another key's signature, a cut signature, a payload naming
    // someone else under alice's signature: each is checked on its own and refused.
    assert.equal(
      await outcome(auth, signed({ sub: "alice", exp: now + 600 }, "another-secret-0123456789abcdef")),
      "unauthorized",
    );
    assert.equal(await outcome(auth, `${h}.${p}.${s.slice(0, -2)}`), "unauthorized");
    assert.equal(await outcome(auth, `${h}.${b64({ sub: "mallory", exp: now + 600 })}.${s}`), "unauthorized");
    assert.equal(await outcome(auth, good), "ok:alice");
    assert.equal(cacheKeys(auth).length, 1, "refused tokens are not remembered");
  });

  it("a remembered token still expires", async (t) => {
    const auth = new Auth({ secret: SECRET });
    const now = Math.floor(Date.now() / 1000);
    const token = signed({ sub: "alice", exp: now + 60 });
    assert.equal(await outcome(auth, token), "ok:alice");
    assert.equal(cacheKeys(auth).length, 1);
    // Two minutes later (the clock, not a wait): the hit is refused and forgotten.
    const realNow = Date.now;
    t.after(() => {
      Date.now = realNow;
    });
    Date.now = () => realNow() + 120_000;
    assert.equal(await outcome(auth, token), "token_expired");
    assert.equal(cacheKeys(auth).length, 0);
  });
});
