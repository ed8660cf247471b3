/**
 * `--workers 2` (node:cluster, one port), the origin's `start(2)`: on Redis, the primary hands
 * connections to both workers in turn and a message crosses from one worker to the other; on
 * SQLite it is refused before anything starts.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { connect, type WsClient } from "../helpers/clients.js";
import { type ChildDuet, SECRET, spawnDuet, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at, freePort } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { eventually, exactlyOnce, historyIds, ownerOf, postMessage, SCALE_ENV, userName } from "./scale.js";

/** The pids of the workers that logged "listening". */
function listeningPids(duet: ChildDuet): number[] {
  const pids: number[] = [];
  for (const line of duet.logs) {
    try {
      const entry = JSON.parse(line) as { msg?: string; pid?: number };
      if (entry.msg === "listening" && entry.pid !== undefined) pids.push(entry.pid);
    } catch {
      // not a log line
    }
  }
  return pids;
}

describe("--workers 2", () => {
  let redis: RedisServer;
  let duet: ChildDuet;
  let port: number;
  before(async () => {
    redis = await startRedis();
    port = await freePort();
    duet = await spawnDuet({ ...SCALE_ENV, DUET_STORE: redis.url, DUET_PORT: String(port) }, [
      "--workers",
      "2",
    ]);
  });
  after(async () => {
    await duet?.kill("SIGKILL");
    await stopAllRedis();
  });

  it("shares one port between two workers, and messages cross from one worker to the other", async (t) => {
    await eventually("both workers listening", () => listeningPids(duet).length === 2);
    const pids = listeningPids(duet);
    assert.notEqual(pids[0], pids[1]);
    assert.equal(new Set(pids).has(duet.proc.pid ?? -1), false, "the primary does not serve");
    const base = `http://127.0.0.1:${port}`;

    // Connections are handed to the workers in turn: eight are enough for both to get some.
    const users = Array.from({ length: 8 }, (_, i) => userName(`w${i}`));
    const tokens = await Promise.all(users.map((u) => tokenFor(u)));
    const clients = (await Promise.all(tokens.map((token) => connect("ws", base, token)))) as WsClient[];
    const owners = clients.map((c) => ownerOf(port, at(c.localPorts, 0), pids));
    assert.ok(
      owners.every((o) => o !== undefined),
      `every connection is held by a worker: ${owners}`,
    );
    const onFirst = users.filter((_, i) => owners[i] === pids[0]);
    const onSecond = users.filter((_, i) => owners[i] === pids[1]);
    t.diagnostic(`connections per worker: ${onFirst.length} and ${onSecond.length}`);
    assert.ok(onFirst.length > 0 && onSecond.length > 0, `both workers hold connections: ${owners}`);

    // Pairs across workers: each side sends over its own WebSocket (handled by its own worker)
    // and over HTTP (any worker); the other side's connection is on the other worker.
    const pairs = Math.min(onFirst.length, onSecond.length);
    const rounds = 6;
    for (let p = 0; p < pairs; p++) {
      const [a, b] = [at(onFirst, p), at(onSecond, p)];
      const [ca, cb] = [at(clients, users.indexOf(a)), at(clients, users.indexOf(b))];
      for (let n = 0; n < rounds; n++) {
        const ws = await ca.request({ op: "send", to: b, text: `ws ${a}>${b} ${n}` });
        assert.equal(ws.op, "result", JSON.stringify(ws));
        const back = await cb.request({ op: "send", to: a, text: `ws ${b}>${a} ${n}` });
        assert.equal(back.op, "result", JSON.stringify(back));
        const http = await postMessage(base, at(tokens, users.indexOf(b)), {
          to: a,
          text: `http ${b}>${a} ${n}`,
        });
        assert.equal(http.status, 201, JSON.stringify(http));
      }
      const ids = await historyIds(base, a, b);
      assert.equal(ids.length, rounds * 3);
      await Promise.all([ca.waitForSeq(ids.length), cb.waitForSeq(ids.length)]);
      assert.equal(exactlyOnce(ca.stored(), 0, ids), null, `${a} on worker ${at(pids, 0)}`);
      assert.equal(exactlyOnce(cb.stored(), 0, ids), null, `${b} on worker ${at(pids, 1)}`);
    }
    await Promise.all(clients.map((c) => c.close()));

    // SIGTERM to the primary stops both workers, and it exits cleanly.
    assert.equal(await duet.kill("SIGTERM"), 0);
    for (const pid of pids) {
      await eventually(`worker ${pid} gone`, () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      });
    }
  });

  it("is refused on SQLite with a clear error (exit code 2)", async () => {
    const proc = spawn(process.execPath, ["--import", "tsx", "src/cli.ts"], {
      cwd: new URL("../../", import.meta.url),
      env: {
        ...process.env,
        DUET_WORKERS: "2",
        DUET_STORE: tempDbUrl(),
        DUET_JWT_SECRET: SECRET,
        DUET_PORT: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    proc.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c)));
    assert.equal(code, 2, stderr);
    assert.match(
      stderr,
      /^duet: --workers needs a Redis store \(DUET_STORE=redis:\/\/\.\.\.\); SQLite is one process\.\n$/,
    );
  });
});
