/**
 * The store alone under W1's write pattern: `--users` users in pairs, batches of `--batch` sends
 * queued in one event-loop turn (as the server's SQLite batching sees them), for `--messages`
 * messages. Prints the process CPU per stored message, so a store change can be judged without a
 * load generator or sockets in the way.
 *
 *   node --import tsx bench/store-micro.ts [--store sqlite:/tmp/x.db] [--users 1000] [--batch 64]
 *
 * `--prototype` times bench/append-log-prototype.ts instead: a PROTOTYPE of the "one append per
 * commit" write path (one log row per batch, indexes in memory), not a store; see that file for
 * what it leaves out.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { SendInput } from "../src/core/types.js";
import { openBackend } from "../src/stores/open-store.js";
import { AppendLogPrototype } from "./append-log-prototype.js";

const { values } = parseArgs({
  options: {
    store: { type: "string" },
    users: { type: "string", default: "1000" },
    batch: { type: "string", default: "64" },
    messages: { type: "string", default: "200000" },
    sync: { type: "string", default: "normal" },
    prototype: { type: "boolean", default: false },
  },
});
const users = Number(values.users);
const batch = Number(values.batch);
const total = Number(values.messages);
const dir = mkdtempSync(join(tmpdir(), "duet-store-micro-"));
const url = values.store ?? `sqlite:${join(dir, "duet.db")}`;
const prototype = values.prototype ? new AppendLogPrototype(join(dir, "log.db")) : null;
const backend = prototype
  ? null
  : await openBackend(url, {
      retention: { maxEvents: 10_000, maxAgeMs: 30 * 86_400_000 },
      sqliteSync: values.sync === "full" ? "full" : "normal",
    });
const store: { send(message: SendInput): Promise<unknown> } =
  backend?.store ?? (prototype as AppendLogPrototype);
const text = "x".repeat(100);
const input = (i: number): SendInput => {
  const from = i % users;
  return {
    from: `u${from}`,
    to: `u${from ^ 1}`,
    kind: "text",
    text,
    image: null,
    links: [],
    clientMsgId: null,
  };
};

async function run(count: number, offset: number): Promise<void> {
  for (let done = 0; done < count; done += batch) {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < batch; i++) pending.push(store.send(input(offset + done + i)));
    await Promise.all(pending);
  }
}

await run(Math.min(20_000, total), 0); // warm-up: JIT, page cache
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await run(total, 1_000_000);
const cpu = process.cpuUsage(cpu0);
const seconds = (performance.now() - t0) / 1000;
const us = (cpu.user + cpu.system) / total;
process.stdout.write(
  `${prototype ? "PROTOTYPE one-append-per-commit (not a store)" : url.startsWith("sqlite:") ? "sqlite" : url} users=${users} batch=${batch}: ${total} sends in ${seconds.toFixed(2)} s, ` +
    `${us.toFixed(1)} µs CPU per message (user ${(cpu.user / total).toFixed(1)}, system ${(cpu.system / total).toFixed(1)})\n`,
);
prototype?.close();
await backend?.close();
rmSync(dir, { recursive: true, force: true });
