/**
 * Half-open links, client side: the SDK behind a chaos proxy whose link is black-holed (no bytes,
 * no FIN, no RST) notices the silence (no keep-alive, no pong) within its idle timeout, set here
 * to one server interval plus a grace; it drops the link, reconnects, and resumes from its cursor:
 * what was sent to it meanwhile arrives exactly once.
 */

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { connect, type DuetClient, type Status } from "../../src/client/index.js";
import { ChaosProxy } from "../helpers/chaos-proxy.js";
import { API_KEY, api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { CheckedWebSocket, checkedFetch } from "../helpers/protocol-tap.js";
import { until } from "./wire.js";

const INTERVAL_MS = 500;
const GRACE_MS = 2_500;
const DEADLINE = 60_000;

describe("the SDK finds a half-open link by its silence and resumes", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  for (const transport of ["ws", "sse", "stream"] as const) {
    test(`${transport}: silence past one interval plus a grace ends the link; nothing is lost`, async (t) => {
      const duet: TestServer = await startDuet({
        DUET_WS_PING_MS: String(INTERVAL_MS),
        DUET_STREAM_PING_MS: String(INTERVAL_MS),
      });
      const proxy = await ChaosProxy.start({ target: { port: duet.port } });
      const user = `hs-${transport}`;
      const client: DuetClient = connect({
        url: proxy.url,
        token: await tokenFor(user),
        WebSocket: CheckedWebSocket,
        fetch: checkedFetch,
        transports: [transport],
        pingMs: INTERVAL_MS, // the WebSocket's liveness is the answer to its own pings
        idleTimeoutMs: INTERVAL_MS + GRACE_MS,
        backoff: { initialMs: 100, maxMs: 1_000 },
      });
      cleanup.push(
        () => client.close(),
        () => proxy.close(),
        () => duet.close(),
      );
      const texts: string[] = [];
      const statuses: Status[] = [];
      client.on("message", (e) => texts.push(e.message.text ?? ""));
      client.on("status", (s) => statuses.push(s));
      await client.online();
      const send = async (text: string) => {
        const res = await api(duet.url, API_KEY, "POST", "/v1/admin/messages", { to: user, text });
        assert.equal(res.status, 201);
      };
      await send("before");
      await until(() => texts.includes("before"), DEADLINE, "the first message");
      // A healthy link stays up across many intervals (keep-alives and pongs arrive in time).
      const onlineSince = statuses.length;
      const healthyUntil = Date.now() + 10 * INTERVAL_MS;
      await until(() => Date.now() >= healthyUntil, DEADLINE, "ten intervals");
      assert.equal(statuses.length, onlineSince, `a healthy link was dropped: ${JSON.stringify(statuses)}`);

      const [link] = [...proxy.links].filter((l) => l.state === "open");
      assert.ok(link, "the client's link");
      const t0 = Date.now();
      link.blackhole();
      await send("into the black hole");
      await send("and another");
      await until(
        () => statuses.slice(onlineSince).some((s) => s.state === "reconnecting"),
        DEADLINE,
        "silence noticed",
      );
      const noticedMs = Date.now() - t0;
      const why = statuses.slice(onlineSince).find((s) => s.state === "reconnecting")?.error;
      assert.equal(why?.code, "timeout", `ended by the watchdog, not by the network: ${why?.message}`);
      await until(() => texts.includes("and another"), DEADLINE, "resumed and caught up");
      t.diagnostic(
        `silence noticed after ${noticedMs} ms (interval ${INTERVAL_MS} ms + grace ${GRACE_MS} ms)`,
      );
      assert.deepEqual(texts, ["before", "into the black hole", "and another"]);
      assert.equal(client.status.state, "online");
      // The old link is still black-holed: no FIN or RST ever told the client.
      assert.equal(link.state, "blackholed");
    });
  }
});
