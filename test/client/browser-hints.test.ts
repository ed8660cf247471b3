/**
 * The SDK listens to the browser's hints when they exist: "offline"/"online" on window, and
 * "visibilitychange" on document. Node has neither, so the test installs EventTarget stand-ins.
 * (test/network/mobile.test.ts covers offline/online, SSE after a suspension, and the retry cap.)
 */

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ChaosProxy } from "../helpers/chaos-proxy.js";
import { API_KEY, api, startDuet } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { clientFor, onlineOn, record, waitFor } from "./helpers.js";

const g = globalThis as unknown as Record<string, unknown>;
const doc = Object.assign(new EventTarget(), { visibilityState: "visible" });
g.document = doc;
after(() => {
  delete g.document;
});

function setVisibility(state: "visible" | "hidden") {
  doc.visibilityState = state;
  doc.dispatchEvent(new Event("visibilitychange"));
}

test("WebSocket, visible again after a long hide: a ping that gets no answer ends the dead link at once", async () => {
  const duet = await startDuet();
  const proxy = await ChaosProxy.start({ target: { port: duet.port } });
  // The watchdog is far off, as after a suspension: only the visibility check can notice.
  const c = await clientFor(proxy.url, "vis-ws", {
    transports: ["ws"],
    idleTimeoutMs: 600_000,
    resumeAfterHiddenMs: 200,
  });
  const r = record(c);
  try {
    await onlineOn(c, "ws");
    const healthy = r.statuses.length;
    setVisibility("hidden");
    await sleep(300);
    setVisibility("visible");
    // A live socket answers the check: the link stays up.
    await api(duet.url, API_KEY, "POST", "/v1/admin/messages", { to: "vis-ws", text: "still here" });
    await waitFor("message on the same link", () => r.messages.length === 1);
    assert.equal(r.statuses.length, healthy, "a healthy link is kept");

    setVisibility("hidden");
    for (const link of proxy.links) link.blackhole(); // the radio died while the app slept
    await api(duet.url, API_KEY, "POST", "/v1/admin/messages", { to: "vis-ws", text: "while asleep" });
    await sleep(300);
    setVisibility("visible");
    await waitFor("caught up after the check", () => r.messages.length === 2, 30_000);
    const lost = r.statuses.slice(healthy).find((s) => s.state === "reconnecting");
    assert.equal(lost?.error?.code, "timeout", "ended by the check, not by the network");
    assert.deepEqual(
      r.messages.map((m) => m.text),
      ["still here", "while asleep"],
    );
  } finally {
    c.close();
    await proxy.close();
    await duet.close();
  }
});
