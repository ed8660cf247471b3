/**
 * The demo page and SPEC 12 in a real Chromium: with the contact-info screen on `mask`, a phone
 * number arrives as [hidden] with a note on both screens; the report button files a report the
 * server API then lists. Leaves a screenshot in test-output/.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { Report } from "../../src/core/types.js";
import { API_KEY, api, type ChildDuet, spawnDuet, tempDbUrl } from "../helpers/duet.js";
import { buildDemo, type Chromium, launchChromium, login, OUT, WAIT } from "./demo-kit.js";

let server: ChildDuet;
let browser: Browser;
let chrome: Chromium | undefined;

before(async () => {
  buildDemo();
  server = await spawnDuet({ DUET_DEV: "1", DUET_STORE: tempDbUrl(), DUET_SCREEN: "mask" });
  chrome = await launchChromium();
  browser = chrome.browser;
});

after(async () => {
  await chrome?.close();
  await server?.kill("SIGTERM");
});

async function openChat(page: Page, peer: string): Promise<void> {
  await page.fill("#new-peer", peer);
  await page.press("#new-peer", "Enter");
  await page.waitForSelector("#composer:not([hidden])", WAIT);
}

test("the demo shows a masked phone number on both screens, and reports a user", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 820 } });
  const mia = await ctx.newPage();
  const noah = await ctx.newPage();
  const errors: string[] = [];
  for (const page of [mia, noah]) page.on("pageerror", (e) => errors.push(e.message));
  await login(mia, server.url, "mia");
  await login(noah, server.url, "noah");
  await openChat(noah, "mia");
  await noah.fill("#text", "call me on 555 123 4567 tonight");
  await noah.press("#text", "Enter");
  const masked = "call me on [hidden] tonight";
  await noah.waitForSelector(`#messages li.msg.mine .text:text-is("${masked}")`, WAIT);
  await noah.waitForSelector("#messages li.msg.mine .screened", WAIT);

  await mia.click('.conv[data-peer="noah"]', WAIT);
  await mia.waitForSelector(`#messages li.msg .text:text-is("${masked}")`, WAIT);
  assert.match((await mia.textContent("#messages li.msg .screened")) ?? "", /contact details hidden/);
  assert.equal(
    await mia.locator("#messages").getByText("555").count(),
    0,
    "the number is nowhere on the page",
  );

  // The report button opens a short form; sending it files the report.
  assert.ok(await mia.isHidden("#report-form"));
  await mia.click("#report");
  await mia.selectOption("#report-reason", "scam");
  await mia.fill("#report-note", "asked me to call off the app");
  await mia.click("#report-send");
  await mia.waitForFunction(
    () => /Reported noah/.test(document.querySelector("#report-status")?.textContent ?? ""),
    undefined,
    WAIT,
  );
  assert.ok(await mia.isHidden("#report-form"));
  mkdirSync(OUT, { recursive: true });
  await mia.screenshot({ path: join(OUT, "demo-safety.png") });

  const listed = await api(server.url, API_KEY, "GET", "/v1/admin/reports");
  const report = (listed.body.reports as Report[]).find((r) => r.reporter === "mia" && r.user === "noah");
  assert.ok(report, JSON.stringify(listed.body));
  assert.equal(report.reason, "scam");
  assert.equal(report.note, "asked me to call off the app");
  assert.deepEqual(
    report.messages.map((m) => m.text),
    [masked],
  );
  assert.deepEqual(errors, [], "no script errors");
  await ctx.close();
});
