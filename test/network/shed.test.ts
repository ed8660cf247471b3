/**
 * Load shedding: past DUET_MAX_CONNECTIONS, every kind of connection attempt (WebSocket upgrade,
 * SSE, NDJSON, long-poll) is refused with 503 `overloaded` and a Retry-After header, at once and
 * without work, and the server goes on serving the connections it has.
 */

import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { StreamReader, until } from "./wire.js";

const MAX = 4;

/** The status, Retry-After and body of a WebSocket upgrade attempt that is refused. */
function refusedUpgrade(
  url: string,
): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("open", () => reject(new Error("the upgrade was accepted")));
    ws.on("error", () => {});
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], body }),
      );
    });
  });
}

function get(
  url: string,
  token: string,
): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("connections past DUET_MAX_CONNECTIONS are shed with 503 and Retry-After", () => {
  let duet: TestServer;
  const streams: StreamReader[] = [];
  before(async () => {
    duet = await startDuet({ DUET_MAX_CONNECTIONS: String(MAX) });
    for (let i = 0; i < MAX; i++) {
      const s = await StreamReader.open(`${duet.url}/v1/events`, await tokenFor(`holder${i}`));
      streams.push(s);
      await s.next((e) => e.type === "hello", 30_000, "hello");
    }
    assert.equal(duet.chat.hub.connectionCount, MAX);
  });
  after(async () => {
    for (const s of streams) s.close();
    await duet.close();
  });

  for (const path of ["/v1/events", "/v1/stream", "/v1/poll?since=0&timeout=25"]) {
    test(`GET ${path.split("?")[0]} at the limit`, async () => {
      const res = await get(duet.url + path, await tokenFor("late"));
      assert.equal(res.status, 503);
      assert.match(res.retryAfter ?? "", /^\d+$/);
      assert.ok(Number(res.retryAfter) >= 1);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, "overloaded");
    });
  }

  test("a WebSocket upgrade at the limit", async () => {
    const res = await refusedUpgrade(
      `${duet.url.replace("http", "ws")}/v1/ws?token=${await tokenFor("late")}`,
    );
    assert.equal(res.status, 503);
    assert.match(res.retryAfter ?? "", /^\d+$/);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, "overloaded");
  });

  test("the connections it has keep working, and a freed slot is taken again", async () => {
    const res = await fetch(`${duet.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(duet.chat.hub.connectionCount, MAX);
    streams.shift()!.close();
    await until(() => duet.chat.hub.connectionCount === MAX - 1, 30_000, "a slot freed");
    const s = await StreamReader.open(`${duet.url}/v1/stream`, await tokenFor("late"));
    streams.push(s);
    assert.equal(s.status, 200);
    await s.next((e) => e.type === "hello", 30_000, "hello after a slot freed");
  });
});
