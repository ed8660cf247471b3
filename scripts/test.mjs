#!/usr/bin/env node
// Runs the whole suite: first every scripts/ensure-*.mjs (each installs or explains a missing
// system part: redis-server, chromium, ...), then node's test runner over test/**/*.test.ts.
// Arguments, if any, are test files to run instead of all.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

for (const script of readdirSync(join(root, "scripts"))
  .filter((f) => /^ensure-.*\.mjs$/.test(f))
  .sort()) {
  const r = spawnSync(process.execPath, [join(root, "scripts", script)], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return find(p);
    return e.name.endsWith(".test.ts") ? [p] : [];
  });
}

const files = process.argv.length > 2 ? process.argv.slice(2) : find(join(root, "test")).sort();
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=300000", ...files],
  { stdio: "inherit", cwd: root, env: { ...process.env, DUET_TEST: "1", DUET_SPAWN_DIST: "1" } },
);
process.exit(r.status ?? 1);
