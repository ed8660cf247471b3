#!/usr/bin/env node
// Makes sure Debian's nginx is installed for test/network/nginx.test.ts. The test runs its own
// nginx as the current user (daemon off, config and paths in a temp dir); this only installs the
// binary. As root it installs the package with apt-get; otherwise it says what to run and fails.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const NGINX = "/usr/sbin/nginx";

if (existsSync(NGINX)) process.exit(0);

if (typeof process.getuid !== "function" || process.getuid() !== 0) {
  console.error(
    "nginx is missing: run `sudo apt-get install -y nginx` (needed by test/network/nginx.test.ts)",
  );
  process.exit(1);
}

const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
const apt = (args) => spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env }).status;

console.error("ensure-nginx: installing Debian's nginx with apt-get");
// Try the cached package lists first; refresh them only when that fails.
if (apt(["install", "-y", "--no-install-recommends", "nginx"]) !== 0) {
  apt(["update"]);
  if (apt(["install", "-y", "--no-install-recommends", "nginx"]) !== 0 || !existsSync(NGINX)) {
    console.error("ensure-nginx: `apt-get install nginx` failed");
    process.exit(1);
  }
}
process.exit(existsSync(NGINX) ? 0 : 1);
