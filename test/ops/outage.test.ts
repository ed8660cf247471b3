/**
 * What an operator reads when Redis goes away under load: a real redis-server is stopped while
 * senders keep sending to a real duet process, then started again. The log must hold one warning
 * when the outage begins and one line when it ends (how long, how many requests were refused),
 * and the clients' 503s must carry duet's words, not the Redis client's.
 */

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ERRORS } from "../../src/core/errors.js";
import { waitUntil } from "../helpers/clients.js";
import { type ChildDuet, spawnDuet, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";

interface Tally {
  ok: number;
  refused: number;
  other: Map<string, number>;
  messages: Set<string>;
}

/** `senders` loops posting messages until `stop()`; every answer is tallied. */
function load(url: string, tokens: string[]): { tally: Tally; stop: () => Promise<void> } {
  const tally: Tally = { ok: 0, refused: 0, other: new Map(), messages: new Set() };
  let running = true;
  const loops = tokens.map(async (token, i) => {
    for (let n = 0; running; n++) {
      const res = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ to: `outage-peer-${i}`, text: `m${n}`, clientMsgId: `c${i}-${n}` }),
      });
      const body = (await res.json()) as { error?: { code: string; message: string } };
      if (res.status === 201 || res.status === 200) tally.ok++;
      else if (res.status === 503 && body.error?.code === "store_unavailable") {
        tally.refused++;
        tally.messages.add(body.error.message);
      } else {
        const key = `${res.status} ${body.error?.code}`;
        tally.other.set(key, (tally.other.get(key) ?? 0) + 1);
      }
    }
  });
  return {
    tally,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

const lineOf = (raw: string): Record<string, unknown> | null => {
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return null;
  }
};

describe("a Redis outage under load", () => {
  let redis: RedisServer;
  let duet: ChildDuet | undefined;
  after(async () => {
    await duet?.kill("SIGTERM");
    await stopAllRedis();
  });

  it("is logged once when it begins and once when it ends; clients get duet's own message", async () => {
    redis = await startRedis();
    duet = await spawnDuet({
      DUET_STORE: redis.url,
      DUET_SEND_RATE: "100000",
      DUET_SEND_BURST: "100000",
      DUET_LOG_LEVEL: "info",
    });
    const url = duet.url;
    const tokens = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => tokenFor(`outage-sender-${i}`)));
    const { tally, stop } = load(url, tokens);
    try {
      await waitUntil("sends stored before the outage", () => tally.ok >= 100);
      await redis.stop("SIGKILL");
      await waitUntil("sends refused during the outage", () => tally.refused >= 200);
      const okDuring = tally.ok;
      await redis.start();
      await waitUntil("sends stored again after it", () => tally.ok >= okDuring + 100);
    } finally {
      await stop();
    }
    const logs = duet.logs;
    await waitUntil("the end of the outage in the log", () =>
      logs.some((l) => lineOf(l)?.msg === "store available again"),
    );
    const lines = logs.map(lineOf).filter((l): l is Record<string, unknown> => l !== null);
    const begins = lines.filter((l) => l.msg === "store unavailable");
    const ends = lines.filter((l) => l.msg === "store available again");
    // For the report: what the operator reads.
    for (const l of [...begins, ...ends]) console.log(JSON.stringify(l));
    assert.equal(begins.length, 1, JSON.stringify(begins));
    assert.equal(ends.length, 1, JSON.stringify(ends));
    assert.equal(at(begins, 0).level, 40);
    assert.equal(at(begins, 0).store, "redis");
    assert.equal(typeof at(begins, 0).cause, "string");
    assert.equal(at(ends, 0).store, "redis");
    assert.ok((at(ends, 0).downMs as number) > 0);
    // Every refusal a client got is counted, and nothing else.
    assert.equal(at(ends, 0).refused, tally.refused);
    // The clients heard duet's words only.
    assert.deepEqual([...tally.messages], [ERRORS.store_unavailable.message]);
    assert.deepEqual([...tally.other], []);
    // Nothing else was logged per request: a few hundred refusals, a handful of lines.
    assert.ok(lines.length < 10, `${lines.length} log lines:\n${logs.join("\n")}`);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^duet_store_available 1$/m);
    assert.match(
      metrics,
      new RegExp(`^duet_errors_total\\{code="store_unavailable"\\} ${tally.refused}$`, "m"),
    );
  });
});
