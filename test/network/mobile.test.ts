/**
 * Mobile realities in the SDK (issue 7): the browser's online/offline and visibility events, a
 * resume after a suspension so long that the cursor left the retained window (the `reset` path
 * reloads state and nothing is shown twice), and a cap on the retry rate. Node has no window or
 * document, so each test installs stand-ins (EventTargets) on globalThis for the SDK to listen to.
 */

import assert from "node:assert/strict";
import { after, afterEach, describe, test } from "node:test";
import { type ConnectOptions, connect, type Message, type Status } from "../../src/client/index.js";
import { ChaosProxy } from "../helpers/chaos-proxy.js";
import { API_KEY, api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { CheckedWebSocket, checkedFetch } from "../helpers/protocol-tap.js";
import { until } from "./wire.js";

const DEADLINE = 60_000;

/** A stand-in for the browser's window (online/offline) and document (visibilitychange). */
class FakeBrowser {
  readonly window = new EventTarget();
  readonly document = Object.assign(new EventTarget(), {
    visibilityState: "visible" as "visible" | "hidden",
  });
  private readonly saved: Record<string, unknown> = {};
  private readonly g = globalThis as unknown as Record<string, unknown>;

  install(): this {
    for (const k of ["addEventListener", "removeEventListener", "document"]) this.saved[k] = this.g[k];
    this.g.addEventListener = this.window.addEventListener.bind(this.window);
    this.g.removeEventListener = this.window.removeEventListener.bind(this.window);
    this.g.document = this.document;
    return this;
  }

  uninstall(): void {
    for (const [k, v] of Object.entries(this.saved)) {
      if (v === undefined) delete this.g[k];
      else this.g[k] = v;
    }
  }

  goOffline(): void {
    this.window.dispatchEvent(new Event("offline"));
  }

  goOnline(): void {
    this.window.dispatchEvent(new Event("online"));
  }

  setVisibility(state: "visible" | "hidden"): void {
    this.document.visibilityState = state;
    this.document.dispatchEvent(new Event("visibilitychange"));
  }
}

describe("mobile realities", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  let browser: FakeBrowser | undefined;
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
    browser?.uninstall();
    browser = undefined;
  });
  after(() => browser?.uninstall());

  const setup = async (env: Record<string, string> = {}) => {
    const duet: TestServer = await startDuet(env);
    const proxy = await ChaosProxy.start({ target: { port: duet.port } });
    cleanup.push(
      () => duet.close(),
      () => proxy.close(),
    );
    return { duet, proxy };
  };
  const clientFor = async (url: string, user: string, options: Partial<ConnectOptions> = {}) => {
    const client = connect({
      url,
      token: await tokenFor(user),
      WebSocket: CheckedWebSocket,
      fetch: checkedFetch,
      ...options,
    });
    cleanup.push(() => client.close());
    const texts: string[] = [];
    const statuses: Status[] = [];
    client.on("message", (e) => texts.push(e.message.text ?? ""));
    client.on("status", (s) => statuses.push(s));
    return { client, texts, statuses };
  };
  const system = async (duet: TestServer, to: string, text: string) => {
    const res = await api(duet.url, API_KEY, "POST", "/v1/admin/messages", { to, text });
    assert.equal(res.status, 201);
  };

  test("offline: the SDK drops its link and waits; online: it reconnects at once", async () => {
    browser = new FakeBrowser().install();
    const { duet, proxy } = await setup();
    // Backoff so long that only the online event can bring it back within the test.
    const { client, texts, statuses } = await clientFor(proxy.url, "mob-net", {
      transports: ["ws"],
      backoff: { initialMs: 120_000, maxMs: 120_000 },
    });
    await client.online();
    browser.goOffline();
    await until(() => duet.chat.hub.connectionCount === 0, DEADLINE, "the link dropped on offline");
    assert.notEqual(client.status.state, "online");
    assert.equal(client.status.error?.code, "offline");
    const accepted = proxy.accepted;
    await system(duet, "mob-net", "while offline");
    await sleep(500);
    assert.equal(proxy.accepted, accepted, "no connection attempt while the browser is offline");
    const before = statuses.length;
    browser.goOnline();
    await until(() => texts.includes("while offline"), DEADLINE, "back online and caught up");
    assert.ok(statuses.slice(before).some((s) => s.state === "online"));
    assert.deepEqual(texts, ["while offline"]);
  });

  test("visible again after a suspension: the SDK checks its link at once instead of waiting", async () => {
    browser = new FakeBrowser().install();
    const { duet, proxy } = await setup();
    // The silence watchdog is far off (as after a suspension, when timers did not run).
    const { client, texts } = await clientFor(proxy.url, "mob-vis", {
      transports: ["sse"],
      idleTimeoutMs: 600_000,
      resumeAfterHiddenMs: 300,
      backoff: { initialMs: 100, maxMs: 1_000 },
    });
    await client.online();
    browser.setVisibility("hidden");
    for (const link of proxy.links) link.blackhole(); // the radio died while the app slept
    await system(duet, "mob-vis", "while suspended");
    await sleep(600);
    assert.equal(client.status.state, "online", "nothing noticed yet: the link is half-open");
    browser.setVisibility("visible");
    await until(() => texts.includes("while suspended"), DEADLINE, "resumed on becoming visible");
    assert.deepEqual(texts, ["while suspended"]);
  });

  test("resume after the cursor left the retained window: reset, reload, nothing shown twice", async () => {
    const { duet, proxy } = await setup({ DUET_RETENTION_EVENTS: "5" });
    const { client } = await clientFor(proxy.url, "mob-app", { backoff: { initialMs: 100, maxMs: 500 } });
    // The app: a conversation view that reloads from history on reset and appends live messages.
    const shown: Message[] = [];
    const emitted: number[] = [];
    let resets = 0;
    let reloading = Promise.resolve();
    client.on("reset", (e) => {
      if (e.reason !== "reset") return;
      resets++;
      reloading = client.history("mob-peer", { limit: 200 }).then(({ messages }) => {
        const live = shown.filter((m) => !messages.some((h) => h.id === m.id));
        shown.splice(0, shown.length, ...messages, ...live);
      });
    });
    client.on("message", (e) => {
      emitted.push(e.seq);
      if (!shown.some((m) => m.id === e.message.id)) shown.push(e.message);
    });
    await client.online();
    const peer = await tokenFor("mob-peer");
    const say = async (text: string) => {
      const res = await api(duet.url, peer, "POST", "/v1/messages", { to: "mob-app", text });
      assert.equal(res.status, 201);
    };
    await say("m0");
    await until(() => shown.length === 1, DEADLINE, "m0 live");
    // Suspended: no network for a while, during which 20 messages pass (the window keeps 5).
    proxy.down(600_000);
    for (let i = 1; i <= 20; i++) await say(`m${i}`);
    proxy.up();
    await until(() => resets === 1, DEADLINE, "a reset on resume");
    await reloading;
    for (let i = 21; i <= 23; i++) await say(`m${i}`);
    await until(() => shown.some((m) => m.text === "m23"), DEADLINE, "live again after the reload");
    await reloading;
    const texts = shown.map((m) => m.text);
    assert.deepEqual(
      texts,
      Array.from({ length: 24 }, (_, i) => `m${i}`),
    );
    assert.equal(new Set(emitted).size, emitted.length, "the SDK emitted no event twice");
  });

  test("a link that dies right after each hello is retried at a capped rate", async (t) => {
    const { duet, proxy } = await setup();
    const { client, statuses } = await clientFor(proxy.url, "mob-flap", {
      transports: ["ws"],
      backoff: { initialMs: 50, maxMs: 400 },
      maxAttemptsPerMinute: 10,
    });
    await client.online();
    // From now on every link is reset as soon as the server has said hello on it.
    const killer = setInterval(() => {
      for (const link of proxy.links) if (link.bytes.down > 0) link.reset();
    }, 5);
    cleanup.push(() => clearInterval(killer));
    const accepted = proxy.accepted;
    const t0 = Date.now();
    await sleep(6_000);
    const attempts = proxy.accepted - accepted;
    t.diagnostic(`${attempts} connection attempts in ${Date.now() - t0} ms`);
    // Without a cap, a link that opens and dies restarts the backoff each time: one attempt
    // every 25-50 ms here. The cap allows 10 a minute.
    assert.ok(attempts <= 10, `${attempts} attempts in 6 s`);
    assert.ok(attempts >= 1);
    assert.ok(statuses.some((s) => s.state === "reconnecting"));
    clearInterval(killer);
    void duet;
  });
});
