/**
 * The demo page's message lifecycle (SPEC 13) and Web Push (SPEC 14) in a real Chromium, two
 * users in two browser contexts, on WebSocket and on long-polling: edit and unsend from a
 * message's menu, a tap to react, delivered and read ticks (a context signed in later shows
 * "read" from the server's state alone), and the read-receipts switch (the peer stops seeing
 * "read"). Then notifications: the switch subscribes (the push service is a local stand-in: see
 * below), the server pushes to it while the user is offline, and the demo's service worker shows
 * a pushed notification with the peer's name and the preview.
 */

import assert from "node:assert/strict";
import { createECDH, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import webpush from "web-push";
import { api, type ChildDuet, spawnDuet, tempDbUrl } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { decryptPush } from "../helpers/web-push-decrypt.js";
import { buildDemo, type Chromium, launchChromium, login, OUT, send, WAIT } from "./demo-kit.js";

interface Push {
  path: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

let server: ChildDuet;
let browser: Browser;
let chrome: Chromium | undefined;
let pushService: Server;
let pushBase: string;
const pushes: Push[] = [];
const vapid = webpush.generateVAPIDKeys();

before(async () => {
  buildDemo();
  // The push service's stand-in: records what duet POSTs to a subscription's endpoint.
  pushService = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      pushes.push({ path: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201);
      res.end();
    });
  });
  await new Promise<void>((resolve) => pushService.listen(0, "127.0.0.1", resolve));
  pushBase = `http://127.0.0.1:${(pushService.address() as AddressInfo).port}`;
  server = await spawnDuet({
    DUET_DEV: "1",
    DUET_STORE: tempDbUrl(),
    DUET_VAPID_PUBLIC_KEY: vapid.publicKey,
    DUET_VAPID_PRIVATE_KEY: vapid.privateKey,
    DUET_VAPID_SUBJECT: "mailto:ops@example.com",
    DUET_NOTIFY_DELAY_S: "1",
  });
  chrome = await launchChromium();
  browser = chrome.browser;
});

after(async () => {
  await chrome?.close();
  await server?.kill("SIGTERM");
  await new Promise((r) => pushService?.close(r));
});

async function userPage(name: string, errors: string[]): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
  await login(page, server.url, name);
  return { ctx, page };
}

/** The chat's message whose text is `text` (mine or not). */
const msg = (text: string, mine?: boolean) =>
  `#messages li.msg${mine === undefined ? "" : mine ? ".mine" : ":not(.mine)"}:has(.text:text-is("${text}"))`;

async function stateOf(page: Page, text: string): Promise<string | null> {
  return page.getAttribute(msg(text, true), "data-state");
}

for (const transport of ["ws", "longpoll"] as const) {
  test(`the demo on ${transport}: edit, unsend, react, delivered/read ticks, the read-receipts switch`, async () => {
    const errors: string[] = [];
    const alice = `alice-${transport}`;
    const bob = `bob-${transport}`;
    const a = await userPage(alice, errors);
    const b = await userPage(bob, errors);
    for (const p of [a.page, b.page]) {
      await p.selectOption("#transport", transport);
      await p.waitForSelector(`#status[data-state="online"][data-transport="${transport}"]`, WAIT);
    }

    await a.page.fill("#new-peer", bob);
    await a.page.press("#new-peer", "Enter");
    await send(a.page, "helo wrld");
    await send(a.page, "for carol, oops");
    // Bob is online: his SDK acknowledges delivery, alice's ticks turn to delivered.
    await a.page.waitForSelector(`${msg("helo wrld", true)}[data-state="delivered"]`, WAIT);
    await a.page.waitForSelector(`${msg("for carol, oops", true)}[data-state="delivered"]`, WAIT);

    // Edit from the message's menu.
    await a.page.click(`${msg("helo wrld", true)} .bubble`);
    await a.page.click(`${msg("helo wrld", true)} .menu-edit`);
    await a.page.waitForSelector("#edit-row:not([hidden])", WAIT);
    assert.equal(await a.page.inputValue("#text"), "helo wrld");
    await a.page.fill("#text", "hello world");
    await a.page.press("#text", "Enter");
    await a.page.waitForSelector(`${msg("hello world", true)} .edited`, WAIT);

    // Bob opens the chat: the edited text; alice's ticks turn to read.
    await b.page.click(`.conv[data-peer="${alice}"]`);
    await b.page.waitForSelector(`${msg("hello world", false)} .edited`, WAIT);
    assert.equal(await b.page.locator(msg("helo wrld")).count(), 0, "the old text is gone");
    await a.page.waitForSelector(`${msg("hello world", true)}[data-state="read"]`, WAIT);
    await a.page.waitForSelector(`${msg("for carol, oops", true)}[data-state="read"]`, WAIT);

    // Bob taps alice's message and reacts; alice sees it, and reacts too.
    await b.page.click(`${msg("hello world", false)} .bubble`);
    await b.page.click(`${msg("hello world", false)} .msg-menu .pick[data-emoji="❤️"]`);
    await a.page.waitForSelector(`${msg("hello world", true)} .reaction[data-emoji="❤️"]`, WAIT);
    await a.page.click(`${msg("hello world", true)} .reaction[data-emoji="❤️"]`);
    await b.page.waitForSelector(
      `${msg("hello world", false)} .reaction.mine[data-emoji="❤️"]:text-is("❤️ 2")`,
      WAIT,
    );
    // Bob takes his back.
    await b.page.click(`${msg("hello world", false)} .reaction[data-emoji="❤️"]`);
    await a.page.waitForSelector(
      `${msg("hello world", true)} .reaction.mine[data-emoji="❤️"]:text-is("❤️")`,
      WAIT,
    );

    // Alice unsends the message meant for someone else: a tombstone on both pages.
    await a.page.click(`${msg("for carol, oops", true)} .bubble`);
    await a.page.click(`${msg("for carol, oops", true)} .menu-unsend`);
    for (const p of [a.page, b.page]) {
      await p.waitForSelector("#messages li.msg.deleted", WAIT);
      assert.equal(await p.locator(msg("for carol, oops")).count(), 0);
    }
    assert.equal(await b.page.textContent("#messages li.msg.deleted .text"), "Message unsent");
    // No menu on someone else's message: bob can react to alice's, not edit or unsend it.
    await b.page.click(`${msg("hello world", false)} .bubble`);
    await b.page.waitForSelector(`${msg("hello world", false)} .msg-menu`, WAIT);
    assert.equal(await b.page.locator(`${msg("hello world", false)} .menu-edit, .menu-unsend`).count(), 0);
    await b.page.click(`${msg("hello world", false)} .bubble`);

    // A context signed in now (no tab storage) shows "read": the ticks are the server's state.
    const a2 = await userPage(alice, errors);
    await a2.page.click(`.conv[data-peer="${bob}"]`);
    await a2.page.waitForSelector(`${msg("hello world", true)}[data-state="read"]`, WAIT);
    await a2.page.waitForSelector(`${msg("hello world", true)} .edited`, WAIT);
    await a2.page.waitForSelector("#messages li.msg.deleted", WAIT);
    assert.equal(await stateOf(a2.page, "hello world"), "read");
    await a2.ctx.close();

    // Bob turns read receipts off in the settings panel.
    await b.page.click("#settings-button");
    await b.page.waitForSelector('#settings[data-loaded="true"]', WAIT);
    for (const key of ["readReceipts", "deliveryReceipts", "typing", "presence", "notifications"])
      assert.equal(await b.page.isChecked(`#set-${key}`), true, `${key} is on by default`);
    await b.page.uncheck("#set-readReceipts");
    await b.page.waitForSelector("#set-readReceipts:not([disabled]):not(:checked)", WAIT);
    const settings = await api(server.url, await devToken(bob), "GET", "/v1/settings");
    assert.equal((settings.body.settings as { readReceipts: boolean }).readReceipts, false);
    await b.page.click("#settings-close");

    await send(a.page, "still there?");
    await b.page.waitForSelector(msg("still there?", false), WAIT); // bob's open chat marks it read
    // A later event from bob is the barrier: a read event would come before it on alice's stream.
    await b.page.click(`${msg("still there?", false)} .bubble`);
    await b.page.click(`${msg("still there?", false)} .msg-menu .pick[data-emoji="👍"]`);
    await a.page.waitForSelector(`${msg("still there?", true)} .reaction[data-emoji="👍"]`, WAIT);
    assert.equal(await stateOf(a.page, "still there?"), "delivered", "no read tick with read receipts off");
    const a3 = await userPage(alice, errors);
    await a3.page.click(`.conv[data-peer="${bob}"]`);
    await a3.page.waitForSelector(`${msg("still there?", true)}[data-state="delivered"]`, WAIT);
    assert.equal(await stateOf(a3.page, "hello world"), "delivered", "the server no longer says read");
    mkdirSync(OUT, { recursive: true });
    await a.page.screenshot({ path: join(OUT, `demo-lifecycle-${transport}.png`) });
    assert.deepEqual(errors, [], "no script errors");
    for (const ctx of [a.ctx, b.ctx, a3.ctx]) await ctx.close();
  });
}

async function devToken(user: string): Promise<string> {
  const res = await api(server.url, null, "POST", "/v1/dev/token", { user });
  return res.body.token as string;
}

/** RFC 8291 decryption of a single-record aes128gcm body (as test/offline/web-push.test.ts). */

test("notifications: the switch subscribes, the server pushes while offline, the worker shows it", async () => {
  const errors: string[] = [];
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = randomBytes(16);
  const endpoint = `${pushBase}/push/carol-browser`;
  const ctx = await browser.newContext();
  await ctx.grantPermissions(["notifications"], { origin: server.url });
  // Headless Chromium here cannot reach a real push service (no internet, no Google push
  // endpoint), so PushManager's subscribe (and getSubscription, which reads what it made) is
  // replaced by one that answers a subscription whose endpoint is the local stand-in above, with
  // keys this test holds: the SDK, the service worker registration, the permission, the server's
  // storage and its encrypted push are all real.
  // (A string, not a function: tsx would wrap a function's inner functions in a helper the page
  // does not have.)
  const stub = {
    endpoint,
    p256dh: ecdh.getPublicKey().toString("base64url"),
    auth: auth.toString("base64url"),
  };
  await ctx.addInitScript(`(() => {
    const { endpoint, p256dh, auth } = ${JSON.stringify(stub)};
    let current = null;
    PushManager.prototype.subscribe = async function (options) {
      const key = new Uint8Array(options.applicationServerKey).buffer;
      current = {
        endpoint,
        expirationTime: null,
        options: { userVisibleOnly: true, applicationServerKey: key },
        toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
        unsubscribe: async () => { current = null; return true; },
      };
      return current;
    };
    PushManager.prototype.getSubscription = async function () { return current; };
  })();`);
  const page = await ctx.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  await login(page, server.url, "carol");
  const carolToken = await devToken("carol");
  const subscription = {
    endpoint,
    keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
    expirationTime: null,
  };

  // The switch: permission, the service worker, the subscription stored on the server.
  await page.click("#settings-button");
  await page.check("#push");
  await page.waitForSelector("#push-status[data-state]", WAIT);
  assert.equal(
    await page.getAttribute("#push-status", "data-state"),
    "on",
    (await page.textContent("#push-status")) ?? "",
  );
  const again = await api(server.url, carolToken, "POST", "/v1/push/subscriptions", subscription);
  assert.equal(again.status, 200, "the server has it already (a new one would be 201)");

  // The service worker's push handler, for real: CDP delivers a push to its registration.
  const cdp = await ctx.newCDPSession(page);
  const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
  cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
  await cdp.send("ServiceWorker.enable");
  for (let i = 0; i < 100 && !registrations.some((r) => !r.isDeleted); i++) await sleep(50);
  const registration = registrations.find((r) => !r.isDeleted && r.scopeURL.startsWith(server.url));
  assert.ok(registration, "the demo's service worker is registered");
  await cdp.send("ServiceWorker.deliverPushMessage", {
    origin: new URL(server.url).origin,
    registrationId: registration.registrationId,
    data: JSON.stringify({
      user: "carol",
      from: "dave",
      count: 1,
      unreadTotal: 1,
      lastMessage: { id: "01TEST", kind: "text", preview: "dinner at 8?" },
    }),
  });
  // What the worker showed, from the registration (a string: see the init script).
  const notifications = () =>
    page.evaluate(`navigator.serviceWorker.getRegistration()
      .then((reg) => reg.getNotifications())
      .then((list) => list.map((n) => ({ title: n.title, body: n.body, tag: n.tag })))`) as Promise<
      unknown[]
    >;
  let shown: unknown[] = [];
  for (let i = 0; i < 100 && shown.length === 0; i++) {
    shown = await notifications();
    if (shown.length === 0) await sleep(100);
  }
  assert.deepEqual(shown, [{ title: "dave", body: "dinner at 8?", tag: "duet:dave" }]);

  // Off: unsubscribed and removed from the server; on again for the offline push below.
  await page.uncheck("#push");
  await page.waitForSelector('#push-status[data-state="off"]', WAIT);
  const gone = await api(server.url, carolToken, "DELETE", "/v1/push/subscriptions", { endpoint });
  assert.equal(gone.status, 404, "already removed by disablePush");
  await page.check("#push");
  await page.waitForSelector('#push-status[data-state="on"]', WAIT);
  assert.deepEqual(errors, [], "no script errors");
  await ctx.close(); // carol goes offline

  // Dave writes once the server has seen carol go (a message older than her last moment online
  // is one she may have seen: not notified): after the notification delay, an encrypted push.
  const dave = await devToken("dave");
  for (let i = 0; i < 100; i++) {
    const seen = await api(server.url, dave, "GET", "/v1/presence?users=carol");
    if ((seen.body.presence as Record<string, { online: boolean }>).carol?.online === false) break;
    await sleep(50);
  }
  await sleep(20); // past her lastSeen millisecond
  const sent = await api(server.url, dave, "POST", "/v1/messages", {
    to: "carol",
    text: "are you free tonight?",
  });
  assert.equal(sent.status, 201);
  for (let i = 0; i < 150 && !pushes.some((p) => p.path === "/push/carol-browser"); i++) await sleep(100);
  const push = pushes.find((p) => p.path === "/push/carol-browser");
  assert.ok(push, "the local push endpoint received a push");
  assert.equal(push.headers["content-encoding"], "aes128gcm");
  const payload = JSON.parse(decryptPush(push.body, ecdh, auth)) as {
    from: string;
    lastMessage: { preview: string | null };
  };
  assert.equal(payload.from, "dave");
  assert.equal(payload.lastMessage.preview, "are you free tonight?");
});
