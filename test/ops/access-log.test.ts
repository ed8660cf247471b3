/**
 * The access log (`--log-level debug`) and the summaries of refused requests, read from a real
 * server's log: route templates, statuses and durations; never a token, never a message's text.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config.js";
import { type RunningServer, startServer } from "../../src/server.js";
import { WsClient, waitUntil } from "../helpers/clients.js";
import { API_KEY, api, SECRET, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { captureLog, DEBUG, type LogLine } from "./log-capture.js";

const TEXT = "a-very-private-sentence-4711";

describe("the access log and refused requests", () => {
  let server: RunningServer;
  let capture: ReturnType<typeof captureLog>;
  let alice: string;
  before(async () => {
    const { config } = loadConfig([], {
      DUET_PORT: "0",
      DUET_HOST: "127.0.0.1",
      DUET_JWT_SECRET: SECRET,
      DUET_API_KEY: API_KEY,
      DUET_STORE: tempDbUrl(),
      DUET_LOG_LEVEL: "debug",
      DUET_SEND_RATE: "1",
      DUET_SEND_BURST: "2",
    });
    capture = captureLog(config.logLevel);
    server = await startServer(config, capture.log);
    alice = await tokenFor("al-alice");
  });
  after(() => server.close());

  const accessLines = (): LogLine[] => capture.lines.filter((l) => l.msg === "request");

  it("logs method, route template, status and duration for each request, at debug level", async () => {
    assert.equal(
      (await api(server.url, alice, "POST", "/v1/messages", { to: "al-bob", text: TEXT })).status,
      201,
    );
    assert.equal((await api(server.url, alice, "GET", "/v1/conversations/al-bob/messages")).status, 200);
    // The token in the query of an SSE request must not reach the log.
    const sse = await fetch(`${server.url}/v1/events?token=${alice}&since=0`);
    assert.equal(sse.status, 200);
    await sse.body?.cancel();
    const ws = new WsClient(server.url, alice);
    await ws.ready();
    await ws.close();
    assert.equal((await api(server.url, null, "GET", "/no/such/path")).status, 404);
    const wanted: [string, string | null, number][] = [
      ["POST", "/v1/messages", 201],
      ["GET", "/v1/conversations/:peer/messages", 200],
      ["GET", "/v1/events", 200],
      ["GET", "/v1/ws", 101],
      ["GET", null, 404],
    ];
    await waitUntil("the access lines", () => wanted.every((w) => findAccess(accessLines(), w)));
    for (const w of wanted) {
      const line = findAccess(accessLines(), w);
      assert.ok(line, `no access line for ${JSON.stringify(w)}`);
      assert.equal(line.level, DEBUG);
      assert.equal(typeof line.ms, "number");
      assert.deepEqual(Object.keys(line).sort(), [
        "level",
        "method",
        "ms",
        "msg",
        "pid",
        "route",
        "status",
        "time",
      ]);
    }
    const all = capture.text();
    assert.ok(!all.includes(alice), "a token reached the log");
    assert.ok(!all.includes(at(alice.split("."), 2)), "a token's signature reached the log");
    assert.ok(!all.includes(TEXT), "a message's text reached the log");
    assert.ok(!all.includes("since=0"), "a query reached the log");
  });

  it("summarises refused tokens and rate limits (HTTP and WebSocket) and counts them in /metrics", async () => {
    const before = capture.lines.length;
    for (const token of ["nonsense", `${alice}x`, await tokenFor("al-alice", -10)]) {
      assert.equal((await api(server.url, token, "GET", "/v1/conversations")).status, 401);
    }
    const refusedWs = new WsClient(server.url, "nonsense");
    await refusedWs.closed;
    // A burst of 2 at 1/s: the third and fourth sends are refused, over HTTP and over the socket.
    const carol = await tokenFor("al-carol");
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push(
        (await api(server.url, carol, "POST", "/v1/messages", { to: "al-bob", text: TEXT })).status,
      );
    assert.deepEqual(statuses, [201, 201, 429]);
    const ws = new WsClient(server.url, carol);
    await ws.ready();
    const answer = await ws.request({ op: "send", to: "al-bob", text: TEXT });
    assert.equal((answer.error as { code: string }).code, "rate_limited");
    await ws.close();

    const rejected = capture.lines.slice(before).filter((l) => l.msg === "requests rejected");
    // The first of each kind is logged at once; the others wait for the minute to end.
    assert.deepEqual(
      rejected.map((l) => [l.kind, l.count]),
      [
        ["auth", 1],
        ["rate_limited", 1],
      ],
    );
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const count = (code: string) =>
      Number(new RegExp(`^duet_errors_total\\{code="${code}"\\} (\\d+)$`, "m").exec(metrics)?.[1]);
    assert.equal(count("unauthorized") + count("token_expired"), 4);
    assert.equal(count("rate_limited"), 2);
    assert.match(metrics, /^duet_store_available 1$/m);
    // At shutdown what is still counted is written out.
    await server.close();
    const last = capture.lines.filter((l) => l.msg === "requests rejected").slice(-2);
    assert.deepEqual(last.map((l) => [l.kind, l.count]).sort(), [
      ["auth", 3],
      ["rate_limited", 1],
    ]);
  });
});

function findAccess(
  lines: LogLine[],
  [method, route, status]: [string, string | null, number],
): LogLine | undefined {
  return lines.find((l) => l.method === method && l.route === route && l.status === status);
}
