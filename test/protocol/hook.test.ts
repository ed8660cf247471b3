/**
 * The recording hook (test/helpers/protocol-check.ts) can fail: answers, events and frames the
 * documents do not describe are reported, through the helpers the tests use, on real sockets.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocketServer } from "ws";
import { HttpStreamClient, WsClient } from "../helpers/clients.js";
import { api } from "../helpers/duet.js";
import {
  eventProblem,
  recordEvent,
  responseProblem,
  takeRecorded,
  webhookProblem,
  wsFrameProblem,
} from "../helpers/protocol-check.js";

const json = "application/json";
const error = (code: string) => JSON.stringify({ error: { code, message: "x" } });
const message = {
  id: "01JD0Z8Q5T3K6W2M9X4R7B1C0E",
  from: "alice",
  to: "bob",
  text: "hi",
  ts: 1733000000000,
};

describe("the protocol check's verdicts", () => {
  it("passes documented answers", () => {
    assert.equal(
      responseProblem("GET", "http://h/v1/conversations", 401, json, error("unauthorized")),
      undefined,
    );
    assert.equal(responseProblem("GET", "http://h/no/such/path", 404, json, error("not_found")), undefined);
    assert.equal(
      responseProblem("GET", "http://h/v1/messages", 405, json, error("method_not_allowed")),
      undefined,
    );
  });

  it("reports an undocumented status, route, method, body or content type", () => {
    const cases: [string, string, number, string | null, string, RegExp][] = [
      ["GET", "/v1/presence", 418, json, error("teapot"), /status 418 is not documented/],
      ["GET", "/v1/nowhere", 200, json, "{}", /no documented route matches/],
      ["GET", "/v1/conversations", 401, json, error("banana"), /must be equal to one of the allowed values/],
      [
        "POST",
        "/v1/messages",
        201,
        json,
        JSON.stringify({ message: { ...message, id: 5 } }),
        /data\/message/,
      ],
      ["GET", "/v1/conversations", 200, "text/plain", "hello", /content-type text\/plain/],
      ["GET", "/v1/conversations", 200, json, "{not json", /not JSON/],
      ["TRACE", "/v1/conversations", 200, json, "{}", /TRACE is not documented/],
      ["GET", "/v1/nowhere", 404, "text/html", "<h1>", /not a JSON error/],
    ];
    for (const [method, path, status, type, body, expected] of cases) {
      const problem = responseProblem(method, `http://h${path}`, status, type, body);
      assert.match(problem ?? "(none)", expected, `${method} ${path} ${status}`);
    }
  });

  it("reports unknown or malformed events and frames", () => {
    assert.equal(eventProblem("stream", { type: "ping" }), undefined);
    assert.match(
      eventProblem("sse", { type: "frobnicated", seq: 1 }) ?? "(none)",
      /not in docs\/asyncapi.json/,
    );
    assert.match(eventProblem("sse", { type: "message", seq: "one", message }) ?? "(none)", /seq/);
    assert.match(eventProblem("sse", { type: "ping" }) ?? "(none)", /not in docs\/asyncapi.json/);
    assert.match(wsFrameProblem({ op: "shout" }) ?? "(none)", /not in docs\/asyncapi.json/);
    assert.match(wsFrameProblem({ op: "event", type: "message", seq: 3 }) ?? "(none)", /message/);
  });

  it("reports an undocumented webhook type, payload or signature header", () => {
    const headers = { "webhook-id": "msg_1", "webhook-timestamp": "1733000000", "webhook-signature": "v1,x" };
    const created = (data: unknown) =>
      JSON.stringify({ type: "message.created", timestamp: "2026-12-06T06:00:00.000Z", data });
    assert.match(
      webhookProblem(JSON.stringify({ type: "message.frobnicated", timestamp: "", data: {} }), headers) ??
        "(none)",
      /not in docs\/asyncapi.json \(no message webhook_message_frobnicated\)/,
    );
    assert.match(webhookProblem(created({ nothing: true }), headers) ?? "(none)", /webhook message.created/);
    assert.match(webhookProblem("{oops", headers) ?? "(none)", /not JSON/);
    const { "webhook-signature": _, ...unsigned } = headers;
    assert.match(webhookProblem(created({}), unsigned) ?? "(none)", /webhook message.created/);
  });

  it("records what arrives outside the test's flow until taken", () => {
    recordEvent("stream", { type: "frobnicated" });
    const taken = takeRecorded();
    assert.equal(taken.length, 1);
    assert.match(taken[0] ?? "", /frobnicated/);
    assert.deepEqual(takeRecorded(), []);
  });
});

describe("the helpers check what real servers send", () => {
  // A server that is not duet: it answers and streams what the documents do not describe.
  let server: Server;
  let wss: WebSocketServer;
  let base: string;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith("/v1/stream")) {
        res.writeHead(200, { "content-type": "application/x-ndjson" });
        res.write(`${JSON.stringify({ type: "frobnicated", seq: 1 })}\n`);
        return;
      }
      res.writeHead(418, { "content-type": json });
      res.end(error("teapot"));
    });
    wss = new WebSocketServer({ server });
    wss.on("connection", (ws) => ws.send(JSON.stringify({ op: "shout", loud: true })));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.closeAllConnections();
    server.close();
  });

  it("api() throws on an undocumented answer, failing the test that awaited it", async () => {
    await assert.rejects(api(base, null, "GET", "/v1/presence?users=a"), /status 418 is not documented/);
  });

  it("a stream client records an undocumented event", async () => {
    const client = new HttpStreamClient(base, "token", "ndjson");
    await client.ready();
    client.abort();
    assert.match(takeRecorded().join("\n"), /stream frobnicated event: not in docs\/asyncapi.json/);
  });

  it("a WebSocket client records an undocumented frame", async () => {
    const client = new WsClient(base, "token");
    await client.waitFor("a frame", () => client.frames.length > 0);
    client.abort();
    assert.match(takeRecorded().join("\n"), /WebSocket shout frame: not in docs\/asyncapi.json/);
  });

  it("an undocumented event fails the test that received it, and the file's teardown still runs", () => {
    const fixture = new URL("undocumented-stream.fixture.ts", import.meta.url).pathname;
    const run = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", fixture], {
      // A runner of its own: not a child of this file's runner (NODE_TEST_CONTEXT).
      env: {
        ...process.env,
        NODE_TEST_CONTEXT: undefined,
        DUET_PROTOCOL_COUNT: undefined,
        DUET_PROTOCOL_CHECK: "1",
      },
      encoding: "utf8",
      timeout: 60_000,
    });
    const out = run.stdout;
    assert.equal(run.signal, null, `the file hung:\n${out}`);
    assert.equal(run.status, 1, out);
    assert.match(out, /not ok \d+ - receives an undocumented event/);
    assert.match(out, /stream frobnicated event: not in docs\/asyncapi.json/);
    assert.match(out, /\bok \d+ - a later test is unaffected/);
    assert.match(out, /teardown ran/);
  });
});
