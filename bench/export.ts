/**
 * Exporting a user with many messages (SPEC 15): time, size and the server's peak memory. The
 * messages are stored through the store itself (SqliteStore.send, thousands per transaction) in
 * this process; then a real duet process (dist/) serves GET /v1/admin/users/:user/export and
 * its peak RSS (VmHWM) is read from /proc before and after.
 *
 *   npm run build && node --import tsx bench/export.ts [--messages 1000000] [--peers 100]
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { SqliteStore } from "../src/stores/sqlite/sqlite-store.js";
import { API_KEY, childEnv, listeningUrl, tempDbUrl } from "../test/helpers/duet.js";

const { values } = parseArgs({
  options: { messages: { type: "string", default: "1000000" }, peers: { type: "string", default: "100" } },
});
const N = Number(values.messages);
const PEERS = Number(values.peers);
const USER = "exporter";

function memory(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: Math.round(kb("VmRSS") / 1024), peakMb: Math.round(kb("VmHWM") / 1024) };
}

const url = tempDbUrl();
const seedStart = performance.now();
const store = new SqliteStore({
  path: url.slice("sqlite:".length),
  retention: { maxEvents: 1000, maxAgeMs: 30 * 86_400_000 },
});
for (let wave = 0; wave < N; wave += 5000) {
  const sends = [];
  for (let i = wave; i < Math.min(N, wave + 5000); i++) {
    const peer = `peer${i % PEERS}`;
    const mine = i % 3 !== 0;
    sends.push(
      store.send({
        from: mine ? USER : peer,
        to: mine ? peer : USER,
        kind: "text",
        text: `message ${i}: some text of an ordinary length, as people write them in a chat`,
        image: null,
        links: [],
        clientMsgId: null,
      }),
    );
  }
  await Promise.all(sends);
}
await store.close();
const seedS = (performance.now() - seedStart) / 1000;
console.log(`seeded ${N} messages over ${PEERS} conversations in ${seedS.toFixed(1)} s`);

const proc = spawn(process.execPath, ["dist/cli.js"], {
  env: childEnv({ DUET_STORE: url, DUET_LOG_LEVEL: "info" }),
  stdio: ["ignore", "pipe", "pipe"],
});
const logs: string[] = [];
const exited = new Promise((r) => proc.on("exit", r));
try {
  const base = await listeningUrl(proc, logs, exited);
  const pid = proc.pid ?? 0;
  const before = memory(pid);
  const start = performance.now();
  const res = await fetch(`${base}/v1/admin/users/${USER}/export`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  if (res.status !== 200 || res.body === null) throw new Error(`export answered ${res.status}`);
  let bytes = 0;
  let lines = 0;
  let firstByteMs = 0;
  let maxRss = 0;
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, memory(pid).rssMb);
  }, 100);
  for await (const chunk of res.body) {
    if (bytes === 0) firstByteMs = performance.now() - start;
    bytes += chunk.byteLength;
    for (const byte of chunk) if (byte === 10) lines++;
  }
  clearInterval(sampler);
  const seconds = (performance.now() - start) / 1000;
  const afterMem = memory(pid);
  console.log(
    JSON.stringify({
      messages: N,
      lines,
      megabytes: Math.round(bytes / 1e6),
      seconds: Number(seconds.toFixed(1)),
      firstByteMs: Math.round(firstByteMs),
      linesPerSecond: Math.round(lines / seconds),
      serverRssBeforeMb: before.rssMb,
      serverRssMaxSampledMb: maxRss,
      serverPeakRssMb: afterMem.peakMb,
    }),
  );
  if (lines < N + 1) throw new Error(`expected at least ${N + 1} lines, got ${lines}`);
} finally {
  proc.kill("SIGTERM");
  await exited;
}
