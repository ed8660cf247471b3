/**
 * The demo page in a real Chromium: two users chat both ways, one of them switched to
 * long-polling by hand; unread badges and read ticks change; the server restarts mid-chat and
 * the conversation goes on with nothing lost. Leaves screenshots in test-output/.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { ERRORS } from "../../src/core/errors.js";
import { API_KEY, api, type ChildDuet, spawnDuet, tempDbUrl } from "../helpers/duet.js";
import { take } from "../helpers/kit.js";
import { buildDemo, type Chromium, launchChromium, login, OUT, send, WAIT } from "./demo-kit.js";
import { summarizePng } from "./png.js";

let server: ChildDuet;
let browser: Browser;
let chrome: Chromium | undefined;
const store = tempDbUrl();

before(async () => {
  buildDemo();
  server = await spawnDuet({ DUET_DEV: "1", DUET_STORE: store });
  chrome = await launchChromium();
  browser = chrome.browser;
});

after(async () => {
  await chrome?.close();
  await server?.kill("SIGTERM");
});

/** Waits until `selector`'s text is `text` (or, with a function, passes it). */
async function waitText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([s, t]) => document.querySelector(s)?.textContent?.trim() === t,
    [selector, text] as const,
    WAIT,
  );
}

/** Texts of the chat's messages, in page order, tagged with whose they are. */
function transcript(page: Page): Promise<string[]> {
  return page.$$eval("#messages li.msg", (items) =>
    items.map(
      (li) =>
        `${li.classList.contains("mine") ? "me" : "them"}: ${li.querySelector(".text")?.textContent ?? ""}`,
    ),
  );
}

test("two users chat in the demo (one on long-polling) through a server restart", async () => {
  const t0 = Date.now();
  const phase = (name: string) => console.log(`demo test: ${name} after ${Date.now() - t0} ms`);
  const aliceCtx = await browser.newContext({ viewport: { width: 1100, height: 820 } });
  const bobCtx = await browser.newContext({
    viewport: { width: 390, height: 760 },
    isMobile: true,
    hasTouch: true,
  });
  const alice = await aliceCtx.newPage();
  const bob = await bobCtx.newPage();
  const errors: string[] = [];
  for (const p of [alice, bob]) p.on("pageerror", (e) => errors.push(e.message));

  await Promise.all([login(alice, server.url, "alice"), login(bob, server.url, "bob")]);
  assert.equal(await alice.getAttribute("#status", "data-transport"), "ws", "auto picks WebSocket");
  phase("both logged in");
  await bob.selectOption("#transport", "longpoll");
  await bob.waitForSelector('#status[data-state="online"][data-transport="longpoll"]', WAIT);
  await waitText(bob, "#status", "online · long-polling");

  // Alice starts a chat; bob, on his conversation list, sees the unread badge count up.
  await alice.fill("#new-peer", "bob");
  await alice.press("#new-peer", "Enter");
  await send(alice, "Hi Bob! ¿Qué tal?");
  await waitText(bob, '.conv[data-peer="alice"] .badge', "1");
  await waitText(bob, '.conv[data-peer="alice"] .preview', "Hi Bob! ¿Qué tal?");
  await send(alice, "Are you there?");
  await waitText(bob, '.conv[data-peer="alice"] .badge', "2");
  // Bob is online (long-polling), so alice's ticks show delivered, not read yet.
  await alice.waitForSelector('#messages li.msg.mine[data-state="delivered"] >> nth=1', WAIT);
  assert.equal(await alice.locator('#messages li.msg.mine[data-state="read"]').count(), 0);

  phase("badges counted");
  // Bob opens the chat: the badge goes, alice's ticks turn to read.
  await bob.click('.conv[data-peer="alice"]');
  await bob.waitForSelector("#chat-main:not([hidden])", WAIT);
  await bob.waitForSelector("#messages li.msg >> nth=1", WAIT);
  assert.equal(await bob.locator('.conv[data-peer="alice"] .badge').count(), 0, "no unread badge");
  await alice.waitForSelector('#messages li.msg.mine[data-state="read"] >> nth=1', WAIT);
  assert.equal(await alice.locator("#messages li.msg.mine:not([data-state=read])").count(), 0);

  // Bob types (alice sees it) and answers; alice has the chat open, so bob's tick turns read.
  await bob.fill("#text", "Hey");
  await bob.type("#text", " alice");
  await waitText(alice, "#chat-sub", "typing…");
  await bob.press("#text", "Enter");
  await alice.waitForSelector('#messages li.msg:not(.mine) .text:text-is("Hey alice")', WAIT);
  await bob.waitForSelector('#messages li.msg.mine[data-state="read"]', WAIT);

  // An image message and a link message.
  await alice.click("#toggle-image");
  await alice.fill("#image-url", `${server.url}/logo.svg`);
  await send(alice, "our logo");
  await send(alice, "docs: https://example.com/duet");
  await bob.waitForSelector(`#messages img[src="${server.url}/logo.svg"]`, WAIT);
  await bob.waitForSelector('#messages a.link[href="https://example.com/duet"]', WAIT);
  await bob.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>("#messages img");
    return img?.complete && img.naturalWidth > 0;
  });

  phase("chatted");
  // The server goes down mid-chat: both pages say so; alice's message waits in the queue.
  await server.kill("SIGTERM");
  for (const p of [alice, bob]) {
    await p.waitForSelector("#banner:not([hidden])", WAIT);
    await p.waitForSelector('#status[data-state="reconnecting"]', WAIT);
  }
  assert.match((await alice.textContent("#banner-text")) ?? "", /reconnecting…/);
  await send(alice, "Sent while the server was down");
  await alice.waitForSelector('#messages li.msg.mine[data-state="pending"]', WAIT);
  mkdirSync(OUT, { recursive: true });
  await alice.screenshot({ path: join(OUT, "demo-reconnecting.png") });

  phase("server down");
  server = await spawnDuet({ DUET_DEV: "1", DUET_STORE: store, DUET_PORT: new URL(server.url).port });
  await alice.waitForSelector('#status[data-state="online"][data-transport="ws"]', WAIT);
  await bob.waitForSelector('#status[data-state="online"][data-transport="longpoll"]', WAIT);
  phase("server up, both online");
  await bob.waitForSelector(
    '#messages li.msg:not(.mine) .text:text-is("Sent while the server was down")',
    WAIT,
  );
  await alice.waitForSelector(
    '#messages li.msg.mine[data-state="read"] .text:text-is("Sent while the server was down")',
    WAIT,
  );
  await send(bob, "Welcome back");
  await alice.waitForSelector('#messages li.msg:not(.mine) .text:text-is("Welcome back")', WAIT);
  await send(alice, "Nothing lost. Merci, café!");
  await bob.waitForSelector('#messages li.msg:not(.mine) .text:text-is("Nothing lost. Merci, café!")', WAIT);
  await bob.waitForSelector("#banner", { ...WAIT, state: "hidden" });
  phase("chatted after restart");
  await alice.waitForSelector(
    '#messages li.msg.mine[data-state="read"] .text:text-is("Nothing lost. Merci, café!")',
    WAIT,
  );

  // Screenshots: the desktop chat, and the phone-sized one; both must show something.
  const shot = join(OUT, "demo-chat.png");
  await alice.screenshot({ path: shot });
  await bob.screenshot({ path: join(OUT, "demo-chat-phone.png") });
  const blankPage = await aliceCtx.newPage();
  const blank = summarizePng(await blankPage.screenshot());
  assert.ok(blank.colors <= 2 && blank.dominantShare > 0.99, "the check sees a blank page as blank");
  const png = readFileSync(shot);
  const summary = summarizePng(png);
  writeFileSync(join(OUT, "demo-chat.json"), JSON.stringify({ bytes: png.length, ...summary }, null, 2));
  assert.equal(summary.width, 1100);
  assert.ok(png.length > 20_000, `screenshot is ${png.length} bytes`);
  assert.ok(summary.colors > 100, `screenshot has ${summary.colors} colours`);
  assert.ok(summary.dominantShare < 0.8, `one colour covers ${summary.dominantShare} of it`);

  // Alice switches through the other transports by hand; each carries a message to bob.
  const labels = { sse: "SSE", stream: "HTTP streaming", poll: "polling" } as const;
  for (const t of ["sse", "stream", "poll"] as const) {
    await alice.selectOption("#transport", t);
    await alice.waitForSelector(`#status[data-state="online"][data-transport="${t}"]`, WAIT);
    await waitText(alice, "#status", `online · ${labels[t]}`);
    await send(alice, `via ${t}`);
    await bob.waitForSelector(`#messages li.msg:not(.mine) .text:text-is("via ${t}")`, WAIT);
  }
  await alice.selectOption("#transport", "auto");
  await alice.waitForSelector('#status[data-state="online"][data-transport="ws"]', WAIT);
  phase("all transports");
  const expected = [
    "a: Hi Bob! ¿Qué tal?",
    "a: Are you there?",
    "b: Hey alice",
    "a: our logo",
    "a: docs: https://example.com/duet",
    "a: Sent while the server was down",
    "b: Welcome back",
    "a: Nothing lost. Merci, café!",
    "a: via sse",
    "a: via stream",
    "a: via poll",
  ];
  const as = (me: "a" | "b") =>
    expected.map((l) => (l.startsWith(`${me}:`) ? `me${l.slice(1)}` : `them${l.slice(1)}`));
  assert.deepEqual(await transcript(alice), as("a"), "alice's chat: everything once, in order");
  assert.deepEqual(await transcript(bob), as("b"), "bob's chat: everything once, in order");
  await alice.waitForSelector('#messages li.msg.mine[data-state="read"] .text:text-is("via poll")', WAIT);
  assert.deepEqual(errors, [], "no script errors on either page");
});

test("the demo says what it refuses: a chat with yourself, replies to the service, a refused send", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 820 } });
  const carol = await ctx.newPage();
  const errors: string[] = [];
  carol.on("pageerror", (e) => errors.push(e.message));
  await login(carol, server.url, "carol");

  // A chat with yourself: refused, with a reason on the page (not only a validation bubble).
  await carol.fill("#new-peer", "carol");
  await carol.press("#new-peer", "Enter");
  await carol.waitForFunction(
    () => /someone else/.test(document.querySelector("#new-chat-error")?.textContent ?? ""),
    undefined,
    WAIT,
  );
  assert.ok(await carol.isVisible("#new-chat-error"));
  assert.ok(await carol.isHidden("#chat-main"), "no chat opened");
  await carol.fill("#new-peer", "car");
  assert.equal((await carol.textContent("#new-chat-error"))?.trim(), "", "typing clears the reason");

  // The service's own conversation has no composer, and says why.
  const sent = await api(server.url, API_KEY, "POST", "/v1/admin/messages", {
    to: "carol",
    text: "Welcome!",
  });
  assert.equal(sent.status, 201);
  await carol.click('.conv[data-peer="system"]', WAIT);
  await carol.waitForSelector('#messages li.msg.system .text:text-is("Welcome!")', WAIT);
  assert.ok(await carol.isHidden("#composer"), "no composer in the system conversation");
  assert.ok(await carol.isVisible("#no-reply"));

  // A send the server refuses shows the server's reason: dave has blocked carol.
  const dave = await api(server.url, null, "POST", "/v1/dev/token", { user: "dave" });
  const daveToken = dave.body.token as string;
  assert.equal((await api(server.url, daveToken, "PUT", "/v1/blocks/carol")).status, 200);
  await carol.fill("#new-peer", "dave");
  await carol.press("#new-peer", "Enter");
  await carol.waitForSelector("#composer:not([hidden])", WAIT);
  assert.ok(await carol.isHidden("#no-reply"));
  await send(carol, "hello dave?");
  await carol.waitForSelector('#messages li.msg.mine[data-state="failed"] .reason', WAIT);
  assert.equal(
    (await carol.textContent('#messages li.msg.mine[data-state="failed"] .reason'))?.trim(),
    ERRORS.blocked.message,
  );
  assert.match(
    (await carol.textContent('#messages li.msg.mine[data-state="failed"] .tick')) ?? "",
    /not sent/,
  );
  mkdirSync(OUT, { recursive: true });
  await carol.screenshot({ path: join(OUT, "demo-refused.png") });
  assert.deepEqual(errors, [], "no script errors");
  await ctx.close();
});

test("a match appears on both screens, and an unmatch takes the conversation off both", async () => {
  const errors: string[] = [];
  const pages = await Promise.all(
    ["erin", "frank"].map(async (name) => {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      page.on("pageerror", (e) => errors.push(String(e)));
      await login(page, server.url, name);
      return { ctx, page };
    }),
  );
  const [erin, frank] = take(
    pages.map((p) => p.page),
    2,
  );
  assert.equal((await api(server.url, API_KEY, "PUT", "/v1/admin/pairs/erin/frank")).status, 201);
  for (const [page, peer] of [
    [erin, "frank"],
    [frank, "erin"],
  ] as const) {
    await page.waitForSelector(`.conv[data-peer="${peer}"] .preview:text-is("New match: say hi 👋")`, WAIT);
  }
  await erin.click('.conv[data-peer="frank"]');
  await send(erin, "hi frank, we matched");
  await frank.click('.conv[data-peer="erin"]');
  await frank.waitForSelector('#messages li.msg .text:text-is("hi frank, we matched")', WAIT);
  mkdirSync(OUT, { recursive: true });
  await frank.screenshot({ path: join(OUT, "demo-matched.png") });

  assert.equal((await api(server.url, API_KEY, "DELETE", "/v1/admin/pairs/erin/frank")).status, 200);
  for (const [page, peer] of [
    [erin, "frank"],
    [frank, "erin"],
  ] as const) {
    await page.waitForSelector(`.conv[data-peer="${peer}"]`, { ...WAIT, state: "detached" });
    await page.waitForSelector("#chat-main", { ...WAIT, state: "hidden" });
  }
  await erin.screenshot({ path: join(OUT, "demo-unmatched.png") });
  // Gone from the server too: a reload does not bring it back.
  await erin.reload();
  await erin.waitForSelector('#status[data-state="online"]', WAIT);
  await erin.waitForTimeout(500);
  assert.equal(await erin.$('.conv[data-peer="frank"]'), null);
  assert.deepEqual(errors, [], "no script errors");
  for (const { ctx } of pages) await ctx.close();
});
