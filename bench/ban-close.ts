/**
 * Bans (SPEC 12): the time from a ban (the server API call on one process) to the last of the
 * user's WebSockets closed with 4004, across two duet processes sharing Redis.
 *
 *   node --import tsx bench/ban-close.ts [--sockets 10] [--runs 10]
 */
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { API_KEY, api, spawnDuet, startDuet, tokenFor } from "../test/helpers/duet.js";
import { at } from "../test/helpers/kit.js";
import { startRedis, stopAllRedis } from "../test/helpers/redis-server.js";

const { values } = parseArgs({
  options: {
    sockets: { type: "string", default: "10" },
    runs: { type: "string", default: "10" },
    // Two duet servers in this process (each its own Redis connections, hub and broker) rather than two processes.
    inprocess: { type: "boolean", default: false },
  },
});
const SOCKETS = Number(values.sockets);

async function openWs(base: string, token: string): Promise<{ closed: Promise<[number, number]> }> {
  const ws = new WebSocket(`${base.replace("http", "ws")}/v1/ws?token=${token}`);
  const closed = new Promise<[number, number]>((resolve) =>
    ws.on("close", (code) => resolve([code, performance.now()])),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("message", () => resolve());
    ws.once("error", reject);
  });
  return { closed };
}

const redis = await startRedis();
const env = { DUET_STORE: redis.url };
const start = async () => {
  if (!values.inprocess) return spawnDuet(env);
  const server = await startDuet(env);
  return { url: server.url, kill: () => server.close() };
};
const [p1, p2] = await Promise.all([start(), start()]);
console.error("started", p1.url, p2.url);
const results: number[] = [];
try {
  for (let run = 0; run < Number(values.runs); run++) {
    const user = `banned${run}_${Date.now()}`;
    const token = await tokenFor(user);
    const closes: Promise<[number, number]>[] = [];
    for (let i = 0; i < SOCKETS; i++) closes.push((await openWs(i % 2 ? p2.url : p1.url, token)).closed);
    const t0 = performance.now();
    const r = await api(p1.url, API_KEY, "PUT", `/v1/admin/users/${user}/ban`, { reason: "bench" });
    if (r.status !== 200) throw new Error(`ban: ${r.status}`);
    const done = await Promise.all(closes);
    if (done.some(([code]) => code !== 4004)) throw new Error(`close codes ${done.map((d) => d[0])}`);
    results.push(Math.max(...done.map(([, at]) => at)) - t0);
  }
} finally {
  await Promise.all([p1.kill(), p2.kill()]);
  await stopAllRedis();
}
const sorted = [...results].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    processes: 2,
    socketsPerBan: SOCKETS,
    runs: results.length,
    lastCloseMs: {
      min: +at(sorted, 0).toFixed(2),
      p50: +at(sorted, Math.floor(sorted.length / 2)).toFixed(2),
      max: +sorted.at(-1)!.toFixed(2),
    },
  }),
);
