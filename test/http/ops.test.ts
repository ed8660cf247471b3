/** SPEC section 8: health, readiness, Prometheus metrics, the send rate limit, and what logs hold. */

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { API_KEY, api, spawnDuet, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at, sleep } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { client, expectError, names, openStream, waitFor } from "./util.js";

/** The value of one sample of the Prometheus text `text` (undefined when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] === undefined ? [] : m[2].split(/,(?=[a-zA-Z_]+=")/);
    if (wanted.every((w) => have.includes(w))) return Number(m[3]);
  }
  return undefined;
}

describe("health, readiness and metrics", () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    server = await startDuet();
    base = server.url;
  });
  after(async () => {
    await server.close();
  });
  const metrics = async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    return res.text();
  };

  it("/healthz and /readyz answer without a token", async () => {
    const health = await api(base, null, "GET", "/healthz");
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { ok: true });
    const ready = await api(base, null, "GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ok: true, store: "sqlite" });
  });

  it("/metrics has every metric of SPEC section 8", async () => {
    const text = await metrics();
    for (const name of [
      "duet_connections",
      "duet_messages_sent_total",
      "duet_events_delivered_total",
      "duet_delivery_latency_seconds",
      "duet_store_latency_seconds",
      "duet_errors_total",
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, "m"), name);
    }
    for (const transport of ["ws", "sse", "stream", "poll"]) {
      assert.equal(typeof sample(text, "duet_connections", { transport }), "number", transport);
    }
    // Process metrics come with it.
    assert.equal(typeof sample(text, "duet_process_resident_memory_bytes"), "number");
  });

  it("the counters move: connections, sent, delivered, delivery latency, store latency, errors", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const t0 = await metrics();
    const stream = await openStream(base, bob.token);
    await stream.next((e) => e.type === "hello");
    const t1 = await metrics();
    assert.equal(
      sample(t1, "duet_connections", { transport: "stream" }),
      (sample(t0, "duet_connections", { transport: "stream" }) ?? 0) + 1,
    );

    await alice.send(b, "counted");
    await stream.next((e) => e.type === "message");
    const withImage = await alice.call("POST", "/v1/messages", {
      to: b,
      image: { url: "https://x.example/a.png" },
    });
    assert.equal(withImage.status, 201);
    await stream.next((e) => e.type === "message");
    expectError(await alice.call("POST", "/v1/messages", "{"), 400, "invalid_json");
    expectError(await api(base, null, "GET", "/v1/blocks"), 401, "unauthorized");
    const t2 = await metrics();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      (sample(t2, name, labels) ?? 0) - (sample(t1, name, labels) ?? 0);
    assert.equal(delta("duet_messages_sent_total", { kind: "text" }), 1);
    assert.equal(delta("duet_messages_sent_total", { kind: "image" }), 1);
    // Bob's stream got both (alice has no connection).
    assert.equal(delta("duet_events_delivered_total"), 2);
    assert.equal(delta("duet_delivery_latency_seconds_count"), 2);
    assert.ok(delta("duet_delivery_latency_seconds_sum") >= 0);
    assert.equal(delta("duet_delivery_latency_seconds_bucket", { le: "+Inf" }), 2);
    assert.equal(delta("duet_store_latency_seconds_count", { op: "send" }), 2);
    assert.equal(delta("duet_errors_total", { code: "invalid_json" }), 1);
    assert.equal(delta("duet_errors_total", { code: "unauthorized" }), 1);

    stream.close();
    await waitFor("the stream to be gone from the gauge", async () =>
      sample(await metrics(), "duet_connections", { transport: "stream" }) ===
      sample(t0, "duet_connections", { transport: "stream" })
        ? true
        : undefined,
    );
  });
});

describe("send rate limit", () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    server = await startDuet({ DUET_SEND_RATE: "2", DUET_SEND_BURST: "3" });
    base = server.url;
  });
  after(async () => {
    await server.close();
  });

  it("allows the burst, then 429 with Retry-After; other users are unaffected", async () => {
    const [a, b, c] = names("alice", "bob", "carol");
    const alice = await client(base, a);
    const carol = await client(base, c);
    const statsBefore = (await api(base, API_KEY, "GET", "/v1/admin/stats")).body.messages as number;
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => alice.call("POST", "/v1/messages", { to: b, text: `m${i}` })),
    );
    const elapsed = (Date.now() - started) / 1000;
    const ok = results.filter((r) => r.status === 201);
    const limited = results.filter((r) => r.status === 429);
    assert.equal(ok.length + limited.length, 20);
    // The burst is always allowed; beyond it, only what the rate refilled meanwhile.
    assert.ok(ok.length >= 3, `${ok.length} allowed`);
    assert.ok(ok.length <= 3 + Math.ceil(elapsed * 2), `${ok.length} allowed in ${elapsed} s`);
    assert.ok(limited.length > 0);
    for (const r of limited) {
      expectError(r, 429, "rate_limited");
      const retry = r.headers.get("retry-after");
      assert.match(retry ?? "", /^[1-9]\d*$/);
    }
    // Refused sends stored nothing.
    const statsAfter = (await api(base, API_KEY, "GET", "/v1/admin/stats")).body.messages as number;
    assert.equal(statsAfter - statsBefore, ok.length);

    // Carol has her own bucket.
    for (let i = 0; i < 3; i++)
      assert.equal((await carol.call("POST", "/v1/messages", { to: b, text: "c" })).status, 201);

    // Retry-After tells the truth: after waiting it, alice may send again.
    const retryAfter = Number(at(limited, 0).headers.get("retry-after"));
    await sleep(retryAfter * 1000);
    assert.equal((await alice.call("POST", "/v1/messages", { to: b, text: "later" })).status, 201);
  });

  it("does not limit system messages from the server API", async () => {
    const [b] = names("bob");
    for (let i = 0; i < 8; i++) {
      const r = await api(base, API_KEY, "POST", "/v1/admin/messages", { to: b, text: `s${i}` });
      assert.equal(r.status, 201);
    }
  });
});

describe("logs", () => {
  it("are JSON lines with the listening URL, and never hold a token or message text", async () => {
    const marker = `marker-${randomUUID()}`;
    const duet = await spawnDuet({ DUET_STORE: tempDbUrl(), DUET_LOG_LEVEL: "debug" });
    try {
      const [a, b] = names("alice", "bob");
      const token = await tokenFor(a);
      const bobToken = await tokenFor(b);
      // A send, a stream with ?token=, failed requests carrying the text or a broken token.
      const stream = await fetch(`${duet.url}/v1/stream?token=${bobToken}`);
      assert.equal(stream.status, 200);
      const sent = await api(duet.url, token, "POST", "/v1/messages", {
        to: b,
        text: marker,
        clientMsgId: marker,
      });
      assert.equal(sent.status, 201);
      await api(duet.url, token, "POST", "/v1/messages", { to: b, text: `${marker}${"x".repeat(5000)}` });
      await api(duet.url, token, "POST", "/v1/messages", `{"to":"${b}","text":"${marker}`);
      await api(duet.url, `${token}broken`, "POST", "/v1/messages", { to: b, text: marker });
      await api(duet.url, API_KEY, "POST", "/v1/admin/messages", { to: b, text: marker });
      const minted = await api(duet.url, API_KEY, "POST", "/v1/admin/tokens", { user: a });
      assert.equal(minted.status, 201);
      await api(duet.url, bobToken, "GET", `/v1/conversations/${a}/unread`);
      await stream.body?.cancel();
    } finally {
      assert.equal(await duet.kill("SIGTERM"), 0);
    }
    const all = duet.logs.join("\n");
    assert.ok(!all.includes(marker), "a message text reached the logs");
    assert.doesNotMatch(all, /eyJ[\w-]+\.eyJ[\w-]+/, "a token reached the logs");
    assert.ok(!all.includes(API_KEY), "the API key reached the logs");

    const lines = duet.logs.flatMap((chunk) => chunk.split("\n")).filter((l) => l.trim() !== "");
    const entries = lines.map((line) => JSON.parse(line) as { msg?: string; url?: string; level?: number });
    const listening = entries.find((e) => e.msg === "listening");
    assert.ok(listening, "no listening line");
    assert.equal(listening.url, duet.url);
    assert.match(listening.url ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(entries.some((e) => e.msg === "stopped"));
  });
});
