/**
 * What every demo browser test shares: building the page's scripts, Debian's Chromium in a
 * profile of its own, and the page steps (sign in, send) that do not depend on the test.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const OUT = new URL("../../test-output/", import.meta.url).pathname;
export const WAIT = { timeout: 30_000 };

/** The page loads demo/duet-client.js, demo/app.js and demo/sw.js: build them from the sources. */
export function buildDemo(): void {
  execFileSync(process.execPath, [new URL("../../scripts/build-client.mjs", import.meta.url).pathname]);
}

export interface Chromium {
  browser: Browser;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/**
 * Headless Chromium. launch() gives the browser a fresh temporary user-data-dir of its own; the
 * profile made here holds the disk cache, so nothing is left in the user's cache.
 */
export async function launchChromium(): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), "duet-chromium-"));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--disk-cache-dir=${join(profile, "cache")}`,
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Signs `name` in on the demo at `base` and waits until the page is online. */
export async function login(page: Page, base: string, name: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.fill("#login-name", name);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector('#status[data-state="online"]', WAIT);
}

/** Types `text` into the open chat and sends it with Enter. */
export async function send(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}
