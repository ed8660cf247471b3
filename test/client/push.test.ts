/**
 * client.enablePush() where it cannot work says why: no service workers (Node, an old browser),
 * permission refused, no `serviceWorker` URL. The working path runs in Chromium
 * (test/browser/demo-lifecycle.test.ts).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { DuetClient } from "../../src/client/index.js";
import { startDuet, type TestServer } from "../helpers/duet.js";
import { clientFor } from "./helpers.js";

let server: TestServer;
let client: DuetClient;
before(async () => {
  server = await startDuet();
  client = await clientFor(server.url, "pusher", { transports: ["longpoll"] });
});
after(async () => {
  client.close();
  await server.close();
});

function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp) {
  return assert.rejects(promise, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, code);
    assert.match(err.message ?? "", message);
    return true;
  });
}

test("enablePush: unsupported, denied, or called without a worker URL: a clear error", async () => {
  await rejectsWith(client.enablePush({ serviceWorker: "/sw.js" }), "push_unsupported", /service workers/);
  await rejectsWith(client.enablePush({} as { serviceWorker: string }), "invalid_input", /serviceWorker/);
  await rejectsWith(client.disablePush(), "push_unsupported", /service workers/);

  // A browser whose user blocked notifications for the site (the parts exist; permission does not).
  const g = globalThis as Record<string, unknown>;
  const saved = { navigator: Object.getOwnPropertyDescriptor(globalThis, "navigator") };
  let registered = 0;
  Object.defineProperty(globalThis, "navigator", {
    value: { serviceWorker: { register: () => registered++ } },
    configurable: true,
  });
  g.PushManager = class {};
  for (const [answer, text] of [
    ["denied", /blocked for this site/],
    ["default", /not allowed/],
  ] as const) {
    g.Notification = { requestPermission: async () => answer };
    await rejectsWith(client.enablePush({ serviceWorker: "/sw.js" }), "push_denied", text);
  }
  assert.equal(registered, 0, "no worker is registered without permission");
  delete g.PushManager;
  delete g.Notification;
  if (saved.navigator) Object.defineProperty(globalThis, "navigator", saved.navigator);
  else delete g.navigator;
});
