/**
 * bench/placement.ts finds which server process holds each user's connection from /proc. Checked
 * against the truth: a server of two processes on one port (node's cluster module, as duet's and
 * the relay's workers) whose workers write their own pid on every connection they accept.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { placement } from "../../bench/placement.js";
import { processTree } from "../../bench/servers.js";
import { freePort, sleep } from "../helpers/kit.js";

const SERVER = `
const cluster = require("node:cluster");
const net = require("node:net");
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  let up = 0;
  cluster.on("listening", () => { if (++up === 2) process.stdout.write("ready\\n"); });
} else {
  net.createServer((socket) => socket.write(String(process.pid) + "\\n")).listen(Number(process.env.PORT), "127.0.0.1");
}
`;

let server: ChildProcess | undefined;
const sockets: Socket[] = [];
// cluster.fork() runs the primary's script file again: it needs one (not `node -e`).
const dir = mkdtempSync(join(tmpdir(), "duet-placement-"));
const script = join(dir, "server.cjs");
writeFileSync(script, SERVER);
after(() => {
  for (const socket of sockets) socket.destroy();
  server?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Connects and resolves with the pid the accepting worker wrote, and the client's port. */
function open(port: number): Promise<{ pid: number; localPort: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    socket.once("error", reject);
    socket.once("data", (data) =>
      resolve({ pid: Number(data.toString().trim()), localPort: socket.localPort ?? 0 }),
    );
  });
}

test("placement names the worker that holds each connection, and the pairs that share one", async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: String(port), NODE_CLUSTER_SCHED_POLICY: "rr" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  server = child;
  await new Promise<void>((resolve) => child.stdout?.once("data", () => resolve()));
  const users: { user: string; pid: number; localPort: number }[] = [];
  for (let i = 0; i < 8; i++) users.push({ user: `u${i}`, ...(await open(port)) });
  await sleep(100);
  const workers = processTree(child.pid ?? -1).slice(1);
  assert.equal(workers.length, 2);
  assert.ok(users.every((u) => workers.includes(u.pid)));

  const found = placement(
    users.map((u) => [u.user, u.localPort]),
    `http://127.0.0.1:${port}`,
    processTree(child.pid ?? -1),
  );
  // The truth, from what each worker wrote.
  const expectedTogether = users
    .filter((u, i) => i % 2 === 1 && users[i - 1]?.pid === u.pid)
    .map((u) => u.user);
  assert.equal(found.pairs, 4);
  assert.equal(found.apart, 4 - expectedTogether.length);
  assert.deepEqual(found.together, expectedTogether);
  assert.equal(
    found.perProcess.reduce((a, b) => a + b, 0),
    8,
  );

  // Pair the users the other way (u0 with whoever shares its worker): all together.
  const byWorker = [...users].sort((a, b) => a.pid - b.pid);
  const same = placement(
    byWorker.map((u, i) => [`u${i}`, u.localPort]),
    `http://127.0.0.1:${port}`,
    processTree(child.pid ?? -1),
  );
  assert.equal(same.pairs, 4);
  assert.equal(same.apart, 0);
  assert.deepEqual(same.together, ["u1", "u3", "u5", "u7"]);

  // Processes that hold none of the sockets place nobody.
  const none = placement(
    users.map((u) => [u.user, u.localPort]),
    `http://127.0.0.1:${port}`,
    [process.pid],
  );
  assert.equal(none.pairs, 0);
});
