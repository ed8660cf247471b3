/**
 * A link slower than the SDK's connect timeout (a far mobile network, or a server answering a
 * reconnect storm): each attempt that runs out of time doubles the next one's allowance, so the
 * client gets through instead of abandoning and restarting the same attempt for ever.
 */

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connect, type DuetClient, type TransportName } from "../../src/client/index.js";
import { ChaosProxy } from "../helpers/chaos-proxy.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { CheckedWebSocket, checkedFetch } from "../helpers/protocol-tap.js";
import { onlineOn, record, textsFrom, waitFor } from "./helpers.js";

let server: TestServer;
const clients: DuetClient[] = [];
const proxies: ChaosProxy[] = [];
before(async () => {
  server = await startDuet();
});
after(async () => {
  for (const c of clients) c.close();
  for (const p of proxies) await p.close();
  await server.close();
});

const CONNECT_TIMEOUT_MS = 150;
// Each way: an upgrade or a request and its answer take at least 2 × this, past the timeout.
const LATENCY_MS = 150;

for (const transport of ["ws", "sse"] as TransportName[]) {
  test(`${transport}: attempts slower than connectTimeoutMs get more time until one gets through`, async () => {
    const proxy = await ChaosProxy.start({ target: { port: server.port }, latencyMs: LATENCY_MS });
    proxies.push(proxy);
    const user = `slow-${transport}`;
    const client = connect({
      url: proxy.url,
      token: await tokenFor(user),
      WebSocket: CheckedWebSocket,
      fetch: checkedFetch,
      transports: [transport],
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    clients.push(client);
    const r = record(client);
    const timeouts: string[] = [];
    client.on("status", (s) => {
      if (s.error?.code === "timeout") timeouts.push(s.error.message);
    });
    await onlineOn(client, transport, 60_000);
    assert.ok(timeouts.length >= 1, "the first attempt ran out of time");
    const sent = await api(server.url, await tokenFor("slow-peer"), "POST", "/v1/messages", {
      to: user,
      text: "over a slow link",
    });
    assert.equal(sent.status, 201);
    await waitFor("the message arrives", () => textsFrom(r, "slow-peer").length === 1, 30_000);
  });
}
