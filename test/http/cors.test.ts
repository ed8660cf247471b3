/**
 * CORS on every answer: ordinary ones (set on the response), the held ones (SSE, NDJSON, polls,
 * which write them from one precomputed list so node keeps no headers object per held response)
 * and the errors of either.
 */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CORS_HEADERS } from "../../src/http/cors.js";
import { startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";

let server: TestServer;

before(async () => {
  server = await startDuet();
});

after(() => server.close());

function assertCors(res: Response, what: string): void {
  for (const [name, value] of Object.entries(CORS_HEADERS))
    assert.equal(res.headers.get(name), value, `${what}: ${name}`);
}

test("every kind of answer carries the CORS headers, held ones included", async () => {
  const token = await tokenFor("cors-user");
  const auth = { authorization: `Bearer ${token}` };
  const cases: [string, string, Record<string, string>, number][] = [
    ["OPTIONS", "/v1/messages", {}, 204],
    ["GET", "/healthz", {}, 200],
    ["GET", "/v1/conversations", auth, 200],
    ["GET", "/v1/conversations", {}, 401],
    ["GET", "/v1/events", auth, 200],
    ["GET", "/v1/stream", auth, 200],
    ["GET", "/v1/poll?timeout=0", auth, 200],
    ["GET", "/v1/poll?since=0&timeout=1", auth, 200],
    ["GET", "/v1/events", {}, 401],
    ["GET", "/v1/poll?since=x", auth, 400],
    ["GET", "/v1/nowhere", {}, 404],
  ];
  for (const [method, path, headers, status] of cases) {
    const controller = new AbortController();
    const res = await fetch(server.url + path, { method, headers, signal: controller.signal });
    assert.equal(res.status, status, `${method} ${path}`);
    assertCors(res, `${method} ${path}`);
    controller.abort();
    await res.body?.cancel().catch(() => {});
  }
  const poll = await fetch(`${server.url}/v1/poll?timeout=0`, { headers: auth });
  assert.equal(poll.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(poll.headers.get("cache-control"), "no-store");
  const body = await poll.text();
  assert.equal(poll.headers.get("content-length"), String(Buffer.byteLength(body)));
});
