/** SPEC section 2: user tokens (HS256 secret, RS256/ES256 public key), and where a token may travel. */

import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { API_KEY, api, SECRET, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { expectError, names, waitFor } from "./util.js";

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const hmac = new TextEncoder().encode(SECRET);

/** A JWT assembled by hand, for shapes jose refuses to sign. */
function unsignedJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature = "",
): string {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

async function signed(
  alg: string,
  key: KeyObject | Uint8Array,
  claims: { sub?: unknown; exp?: unknown; nbf?: number },
): Promise<string> {
  const payload: Record<string, unknown> = {};
  if (claims.sub !== undefined) payload.sub = claims.sub;
  if (claims.exp !== undefined) payload.exp = claims.exp;
  if (claims.nbf !== undefined) payload.nbf = claims.nbf;
  return new SignJWT(payload).setProtectedHeader({ alg }).sign(key);
}

/** Status and error code of GET /v1/conversations with `token`. */
async function probe(base: string, token: string): Promise<{ status: number; code?: string }> {
  const r = await api(base, token, "GET", "/v1/conversations");
  return { status: r.status, code: (r.body.error as { code?: string } | undefined)?.code };
}

describe("HS256 with DUET_JWT_SECRET", () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    server = await startDuet();
    base = server.url;
  });
  after(async () => {
    await server.close();
  });

  it("accepts a valid token", async () => {
    assert.deepEqual(await probe(base, await tokenFor("alice")), { status: 200, code: undefined });
  });

  it("refuses an expired token with token_expired", async () => {
    const token = await signed("HS256", hmac, { sub: "alice", exp: now() - 10 });
    assert.deepEqual(await probe(base, token), { status: 401, code: "token_expired" });
  });

  it("refuses a token that expires after it was accepted (and remembered)", async () => {
    // At least 2 s ahead (now() is whole seconds), so a slow first request is not already late.
    const exp = now() + 3;
    const token = await signed("HS256", hmac, { sub: "alice", exp });
    assert.deepEqual(await probe(base, token), { status: 200, code: undefined });
    await waitFor("the token to expire", () => Date.now() >= exp * 1000 + 50, 5000);
    assert.deepEqual(await probe(base, token), { status: 401, code: "token_expired" });
  });

  it("refuses forged, unsigned and malformed tokens with 401 unauthorized", async () => {
    const exp = now() + 600;
    const valid = await tokenFor("alice");
    const [h, p] = valid.split(".");
    const cases: Record<string, string> = {
      "wrong secret": await tokenFor("alice", 600, `${SECRET}-not`),
      "forged payload": `${h}.${b64({ sub: "mallory", exp })}.${valid.split(".")[2]}`,
      "alg none": unsignedJwt({ alg: "none", typ: "JWT" }, { sub: "alice", exp }),
      "alg none with the valid signature": unsignedJwt(
        { alg: "none" },
        { sub: "alice", exp },
        valid.split(".")[2],
      ),
      "HS512 with the secret": await signed("HS512", hmac, { sub: "alice", exp }),
      "missing exp": await signed("HS256", hmac, { sub: "alice" }),
      "string exp": await signed("HS256", hmac, { sub: "alice", exp: String(exp) }),
      "missing sub": await signed("HS256", hmac, { exp }),
      "empty sub": await signed("HS256", hmac, { sub: "", exp }),
      "sub with a space": await signed("HS256", hmac, { sub: "alice smith", exp }),
      "sub with ../": await signed("HS256", hmac, { sub: "../alice", exp }),
      "sub too long": await signed("HS256", hmac, { sub: "a".repeat(65), exp }),
      "numeric sub": await signed("HS256", hmac, { sub: 12345, exp }),
      "not yet valid": await signed("HS256", hmac, { sub: "alice", exp, nbf: now() + 300 }),
      "two parts": `${h}.${p}`,
      garbage: "garbage",
      dots: "..",
      "bad base64": "@@@.###.$$$",
      "json array header": `${Buffer.from("[]").toString("base64url")}.${p}.x`,
      "longer than 8 KiB": `${h}.${"A".repeat(10_000)}.x`,
    };
    for (const [what, token] of Object.entries(cases)) {
      const r = await probe(base, token);
      assert.deepEqual(r, { status: 401, code: "unauthorized" }, what);
    }
  });

  it("answers 431 to a token past node's header limit", async () => {
    const r = await probe(base, `${"A".repeat(20_000)}.x.y`);
    assert.deepEqual(r, { status: 431, code: "headers_too_large" });
  });

  it("refuses a missing or malformed Authorization header", async () => {
    const token = await tokenFor("alice");
    for (const header of [
      undefined,
      "",
      "Bearer",
      "Bearer ",
      `Basic ${token}`,
      `Token ${token}`,
      `Bearer ${token} x`,
    ]) {
      const headers: Record<string, string> = header === undefined ? {} : { authorization: header };
      const res = await fetch(`${base}/v1/conversations`, { headers });
      expectError(
        { status: res.status, body: (await res.json()) as Record<string, unknown> },
        401,
        "unauthorized",
      );
    }
    // The scheme is case-insensitive.
    const lower = await fetch(`${base}/v1/conversations`, { headers: { authorization: `bearer ${token}` } });
    assert.equal(lower.status, 200);
    await lower.arrayBuffer();
  });

  it("accepts ?token= on the streaming endpoints only", async () => {
    const [a, b] = names("alice", "bob");
    const token = await tokenFor(a);
    const q = `token=${encodeURIComponent(token)}`;
    for (const path of [`/v1/events?${q}`, `/v1/stream?${q}`]) {
      const controller = new AbortController();
      const res = await fetch(base + path, { signal: controller.signal });
      assert.equal(res.status, 200, path);
      controller.abort();
    }
    const poll = await api(base, null, "GET", `/v1/poll?timeout=0&${q}`);
    assert.equal(poll.status, 200);
    assert.deepEqual(poll.body.events, []);

    const ws = new WebSocket(`${base.replace("http", "ws")}/v1/ws?${q}`);
    const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
      ws.once("message", (data) => resolve(JSON.parse(String(data)) as Record<string, unknown>));
      ws.once("error", reject);
    });
    assert.equal(hello.op, "hello");
    assert.equal(hello.user, a);
    ws.close();

    // Not on the ordinary API: tokens in URLs end up in logs.
    expectError(
      await api(base, null, "POST", `/v1/messages?${q}`, { to: b, text: "x" }),
      401,
      "unauthorized",
    );
    expectError(await api(base, null, "GET", `/v1/conversations?${q}`), 401, "unauthorized");
    expectError(await api(base, null, "GET", `/v1/blocks?${q}`), 401, "unauthorized");
  });

  it("refuses a bad ?token= on the streaming endpoints", async () => {
    const expired = await signed("HS256", hmac, { sub: "alice", exp: now() - 10 });
    for (const path of ["/v1/events", "/v1/stream", "/v1/poll"]) {
      expectError(await api(base, null, "GET", `${path}?token=garbage`), 401, "unauthorized");
      expectError(await api(base, null, "GET", `${path}?token=${expired}`), 401, "token_expired");
    }
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${base.replace("http", "ws")}/v1/ws?token=${expired}`);
      ws.on("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on("open", () => reject(new Error("opened with an expired token")));
      ws.on("error", () => {});
    });
    assert.equal(status, 401);
  });
});

describe("RS256 and ES256 with DUET_JWT_PUBLIC_KEY", () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const otherEc = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = (key: KeyObject) => key.export({ type: "spki", format: "pem" }).toString();
  const servers: TestServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  const start = async (env: Record<string, string>) => {
    const s = await startDuet(env);
    servers.push(s);
    return s.url;
  };
  const exp = now() + 600;

  it("RS256: accepts tokens signed by the key, refuses every other signature", async () => {
    const base = await start({ DUET_JWT_SECRET: "", DUET_JWT_PUBLIC_KEY: pem(rsa.publicKey) });
    assert.equal(
      (await probe(base, await signed("RS256", rsa.privateKey, { sub: "alice", exp }))).status,
      200,
    );
    const refused: Record<string, string> = {
      "another RSA key": await signed("RS256", otherRsa.privateKey, { sub: "alice", exp }),
      "RS512 with the key": await signed("RS512", rsa.privateKey, { sub: "alice", exp }),
      "PS256 with the key": await signed("PS256", rsa.privateKey, { sub: "alice", exp }),
      "HS256 keyed with the public PEM": await signed("HS256", new TextEncoder().encode(pem(rsa.publicKey)), {
        sub: "alice",
        exp,
      }),
      "HS256 with the test secret": await tokenFor("alice"),
      ES256: await signed("ES256", ec.privateKey, { sub: "alice", exp }),
      "alg none": unsignedJwt({ alg: "none" }, { sub: "alice", exp }),
      "missing exp": await signed("RS256", rsa.privateKey, { sub: "alice" }),
      "bad sub": await signed("RS256", rsa.privateKey, { sub: "a/b", exp }),
    };
    for (const [what, token] of Object.entries(refused)) {
      assert.deepEqual(await probe(base, token), { status: 401, code: "unauthorized" }, what);
    }
    const expired = await signed("RS256", rsa.privateKey, { sub: "alice", exp: now() - 5 });
    assert.deepEqual(await probe(base, expired), { status: 401, code: "token_expired" });
    // Minting needs a secret: with only a public key the server API says so.
    const mint = await api(base, API_KEY, "POST", "/v1/admin/tokens", { user: "alice" });
    expectError(mint, 409, "conflict");
  });

  it("ES256: accepts tokens signed by the key, refuses every other signature", async () => {
    const base = await start({ DUET_JWT_SECRET: "", DUET_JWT_PUBLIC_KEY: pem(ec.publicKey) });
    assert.equal((await probe(base, await signed("ES256", ec.privateKey, { sub: "bob", exp }))).status, 200);
    const refused: Record<string, string> = {
      "another EC key": await signed("ES256", otherEc.privateKey, { sub: "bob", exp }),
      RS256: await signed("RS256", rsa.privateKey, { sub: "bob", exp }),
      "HS256 keyed with the public PEM": await signed("HS256", new TextEncoder().encode(pem(ec.publicKey)), {
        sub: "bob",
        exp,
      }),
      "HS256 with the test secret": await tokenFor("bob"),
      "alg none": unsignedJwt({ alg: "none" }, { sub: "bob", exp }),
    };
    for (const [what, token] of Object.entries(refused)) {
      assert.deepEqual(await probe(base, token), { status: 401, code: "unauthorized" }, what);
    }
  });

  it("takes the key with escaped newlines or from @file, and together with a secret", async () => {
    const escaped = pem(rsa.publicKey).replace(/\n/g, "\\n");
    const fromEnv = await start({ DUET_JWT_SECRET: "", DUET_JWT_PUBLIC_KEY: escaped });
    const rs = await signed("RS256", rsa.privateKey, { sub: "carol", exp });
    assert.equal((await probe(fromEnv, rs)).status, 200);

    const file = join(tempDbUrl().slice("sqlite:".length), "..", "key.pem");
    writeFileSync(file, pem(ec.publicKey));
    const both = await start({ DUET_JWT_PUBLIC_KEY: `@${file}` });
    assert.equal(
      (await probe(both, await signed("ES256", ec.privateKey, { sub: "carol", exp }))).status,
      200,
    );
    assert.equal((await probe(both, await tokenFor("carol"))).status, 200);
    assert.equal((await probe(both, rs)).status, 401);
  });
});

describe("the reserved system user", () => {
  let server: TestServer;
  before(async () => {
    server = await startDuet({ DUET_DEV: "1" });
  });
  after(() => server.close());

  it("no token acts as system, none is minted for it, and nobody sends to it", async () => {
    assert.deepEqual(await probe(server.url, await tokenFor("system")), {
      status: 401,
      code: "unauthorized",
    });
    const dev = await api(server.url, null, "POST", "/v1/dev/token", { user: "system" });
    assert.equal(dev.status, 400);
    const admin = await fetch(`${server.url}/v1/admin/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ user: "system" }),
    });
    assert.equal(admin.status, 400);
    const send = await api(server.url, await tokenFor("alice"), "POST", "/v1/messages", {
      to: "system",
      text: "hi",
    });
    assert.equal(send.status, 400);
    // A system message still reaches alice, and she can read it as her conversation with system.
    const sys = await fetch(`${server.url}/v1/admin/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ to: "alice", text: "welcome" }),
    });
    assert.equal(sys.status, 201);
    const history = await api(
      server.url,
      await tokenFor("alice"),
      "GET",
      "/v1/conversations/system/messages",
    );
    assert.equal((history.body.messages as unknown[]).length, 1);
  });
});
