/**
 * Unmatching a long conversation (SPEC 11): how long the erasure of N messages takes, and what
 * other requests see meanwhile (a send between two other users every 2 ms, its latency).
 *
 *   node --import tsx bench/unmatch.ts [--messages 100000] [--store sqlite|redis|both]
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { API_KEY, api, startDuet, type TestServer, tokenFor } from "../test/helpers/duet.js";
import { sleep, take } from "../test/helpers/kit.js";
import { startRedis, stopAllRedis } from "../test/helpers/redis-server.js";

const { values } = parseArgs({
  options: { messages: { type: "string", default: "100000" }, store: { type: "string", default: "both" } },
});
const N = Number(values.messages);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

async function run(name: string, env: Record<string, string>): Promise<void> {
  const server: TestServer = await startDuet({ ...env, DUET_SEND_RATE: "100000", DUET_SEND_BURST: "100000" });
  try {
    const [a, b, x, y] = take(
      ["ua", "ub", "ux", "uy"].map((u) => `${u}${Date.now()}`),
      4,
    );
    await api(server.url, API_KEY, "PUT", `/v1/admin/pairs/${a}/${b}`);
    const store = server.chat.store;
    const fillStart = performance.now();
    for (let wave = 0; wave < N; wave += 1000) {
      const sends = [];
      for (let i = wave; i < Math.min(N, wave + 1000); i++)
        sends.push(
          store.send({
            from: i % 2 ? a : b,
            to: i % 2 ? b : a,
            kind: "text",
            text: `message ${i} of a long conversation, with some text in it`,
            image: null,
            links: [],
            clientMsgId: null,
          }),
        );
      await Promise.all(sends);
    }
    const fillMs = performance.now() - fillStart;
    // Warm the probe path.
    const xToken = await tokenFor(x);
    for (let i = 0; i < 50; i++)
      await api(server.url, xToken, "POST", "/v1/messages", { to: y, text: "warm" });

    const latencies: number[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t = performance.now();
        const r = await api(server.url, xToken, "POST", "/v1/messages", { to: y, text: "meanwhile" });
        if (r.status !== 201) throw new Error(`probe failed: ${r.status}`);
        latencies.push(performance.now() - t);
        await sleep(2);
      }
    })();
    await sleep(1000);
    const before = latencies.length;
    const quiet = latencies.slice(0).sort((p, q) => p - q);
    // The event loop's stalls during the unmatch (SQLite's work runs on it).
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const t0 = performance.now();
    const r = await api(server.url, API_KEY, "DELETE", `/v1/admin/pairs/${a}/${b}`);
    const unmatchMs = performance.now() - t0;
    loop.disable();
    const during = latencies.slice(before);
    probing = false;
    await probe;
    if (r.status !== 200) throw new Error(`unmatch failed: ${r.status}`);
    const left = (await store.history(a, b, { limit: 10 })).messages.length;
    const sorted = [...during].sort((p, q) => p - q);
    console.log(
      JSON.stringify({
        store: name,
        messages: N,
        fillMs: Math.round(fillMs),
        unmatchMs: Math.round(unmatchMs),
        left,
        probesDuring: during.length,
        probeP50Ms: +pct(sorted, 50).toFixed(2),
        probeP99Ms: +pct(sorted, 99).toFixed(2),
        probeMaxMs: +(sorted.at(-1) ?? 0).toFixed(2),
        loopDelayMaxMs: +(loop.max / 1e6).toFixed(1),
        loopDelayP99Ms: +(loop.percentile(99) / 1e6).toFixed(1),
        probesBefore: quiet.length,
        probeBeforeP50Ms: +pct(quiet, 50).toFixed(2),
        probeBeforeP99Ms: +pct(quiet, 99).toFixed(2),
      }),
    );
  } finally {
    await server.close();
  }
}

if (values.store === "sqlite" || values.store === "both") await run("sqlite", {});
if (values.store === "redis" || values.store === "both") {
  const redis = await startRedis();
  await run("redis", { DUET_STORE: redis.url });
  await stopAllRedis();
}
