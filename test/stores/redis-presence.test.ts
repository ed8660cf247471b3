import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { openRedisPresence, type RedisPresence } from "../../src/stores/redis/redis-presence.js";
import { at, sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";

describe("RedisPresence across processes", () => {
  let server: RedisServer;
  let a: RedisPresence;
  let b: RedisPresence;
  before(async () => {
    server = await startRedis();
    const options = { pollWindowMs: 300, heartbeatMs: 100, nodeTtlMs: 500 };
    [a, b] = await Promise.all([
      openRedisPresence(server.url, options),
      openRedisPresence(server.url, options),
    ]);
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    await stopAllRedis();
  });

  it("shows a user connected on one process as online on the other", async () => {
    assert.deepEqual(await b.query(["alice"]), { alice: { online: false } });
    a.connected("alice");
    a.connected("alice");
    b.connected("alice");
    await a.query([]);
    assert.deepEqual(await b.query(["alice"]), { alice: { online: true } });
    a.disconnected("alice");
    b.disconnected("alice");
    await sleep(20);
    assert.deepEqual(await b.query(["alice"]), { alice: { online: true } }, "one connection left on a");
    const closedAt = Date.now();
    a.disconnected("alice");
    await sleep(20);
    const alice = at(await b.query(["alice"]), "alice");
    assert.equal(alice.online, false);
    assert.ok(alice.lastSeen !== undefined && Math.abs(alice.lastSeen - closedAt) < 100);
  });

  it("counts a poll as online within the window", async () => {
    a.polled("bob");
    await sleep(20);
    assert.deepEqual(await b.query(["bob", "nobody"]), { bob: { online: true }, nobody: { online: false } });
    await sleep(400);
    assert.equal(at(await b.query(["bob"]), "bob").online, false);
  });

  it("drops the users of a process that died without saying goodbye", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        fileURLToPath(new URL("../helpers/redis-presence-child.ts", import.meta.url)),
        server.url,
        "carol",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const [line] = await once(child.stdout!, "data");
    assert.equal(String(line).trim(), "ready");
    assert.deepEqual(await b.query(["carol"]), { carol: { online: true } });
    const nodes = await b.nodes();
    assert.equal(nodes.length, 3);
    child.kill("SIGKILL");
    await once(child, "exit");
    await sleep(800); // node TTL (500) + one cached liveness answer (100)
    assert.deepEqual(await b.query(["carol"]), { carol: { online: false } });
    assert.deepEqual((await b.nodes()).map((n) => n.id).sort(), [a.nodeId, b.nodeId].sort());
  });
});
