/**
 * Send latency with a moderation hook that answers in 50 ms (SPEC 12), against the same server
 * with no hook: N senders, each sending one message after another over HTTP keep-alive.
 * `node --import tsx bench/moderation-latency.ts [senders=50] [messagesPerSender=40]`
 */

import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { startServer } from "../src/server.js";
import { SECRET as JWT_SECRET, tokenFor } from "../test/helpers/duet.js";

const SECRET = `whsec_${Buffer.from("bench-moderation-secret-012345678").toString("base64")}`;
const senders = Number(process.argv[2] ?? 50);
const perSender = Number(process.argv[3] ?? 40);
const HOOK_MS = 50;

async function startHook(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () =>
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"action":"accept"}');
      }, HOOK_MS),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function run(label: string, env: Record<string, string>): Promise<void> {
  const { config } = loadConfig([], {
    DUET_PORT: "0",
    DUET_HOST: "127.0.0.1",
    DUET_JWT_SECRET: JWT_SECRET,
    DUET_STORE: `sqlite:${join(mkdtempSync(join(tmpdir(), "duet-bench-")), "duet.db")}`,
    DUET_LOG_LEVEL: "silent",
    DUET_SEND_RATE: "1000",
    DUET_SEND_BURST: "1000",
    ...env,
  });
  const server = await startServer(config, createLogger("silent"));
  const agent = new Agent({ connections: senders * 2 });
  const latencies: number[] = [];
  const tokens = await Promise.all(Array.from({ length: senders }, (_, i) => tokenFor(`s${i}`)));
  const started = performance.now();
  await Promise.all(
    tokens.map(async (token, i) => {
      for (let n = 0; n < perSender; n++) {
        const t0 = performance.now();
        const res = await request(`${server.url}/v1/messages`, {
          method: "POST",
          dispatcher: agent,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ to: `r${i}`, text: `hello number ${n}` }),
        });
        await res.body.text();
        if (res.statusCode !== 201) throw new Error(`status ${res.statusCode}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(28)} ${latencies.length} sends, ${senders} concurrent: p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
      `p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${(latencies.at(-1) ?? 0).toFixed(1)} ms, ${(latencies.length / seconds).toFixed(0)} sends/s`,
  );
  await agent.close();
  await server.close();
}

const hook = await startHook();
await run("no hook", {});
await run(`hook answering in ${HOOK_MS} ms`, {
  DUET_MODERATION_URL: hook.url,
  DUET_WEBHOOK_SECRET: SECRET,
});
hook.close();
