#!/usr/bin/env node
// The browser test drives Debian's Chromium (/usr/bin/chromium) with playwright-core. If it is
// missing: install the Debian package when running as root, otherwise say how and fail.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";

if (!existsSync(CHROMIUM)) {
  if (process.getuid?.() !== 0) {
    console.error(
      `${CHROMIUM} is missing: install the Debian package "chromium" (sudo apt-get install -y chromium).`,
    );
    process.exit(1);
  }
  console.error(`${CHROMIUM} is missing: installing the Debian package "chromium"...`);
  const run = (args) =>
    spawnSync("apt-get", args, {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  if (
    run(["update"]).status !== 0 ||
    run(["install", "-y", "chromium"]).status !== 0 ||
    !existsSync(CHROMIUM)
  ) {
    console.error('Installing "chromium" failed; install it by hand and run the tests again.');
    process.exit(1);
  }
}
