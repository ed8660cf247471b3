#!/usr/bin/env node
// Makes sure redis-server and redis-cli are on PATH for the Redis tests, which start their own
// servers on free loopback ports (test/helpers/redis-server.ts). As root this installs Debian's
// redis-server package (it brings redis-cli); otherwise it says what to install and fails.
import { spawnSync } from "node:child_process";

const found = (cmd) => spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;

if (found("redis-server") && found("redis-cli")) process.exit(0);

if (typeof process.getuid !== "function" || process.getuid() !== 0) {
  console.error(
    "redis-server is missing: install the Debian package `redis-server` (sudo apt-get install -y redis-server)",
  );
  process.exit(1);
}

const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
const apt = (args) => spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env }).status;

console.error("ensure-redis: installing Debian's redis-server with apt-get");
if (apt(["update"]) !== 0 || apt(["install", "-y", "--no-install-recommends", "redis-server"]) !== 0) {
  console.error("ensure-redis: `apt-get install redis-server` failed");
  process.exit(1);
}
// The package starts a system-wide server on 6379; the tests never use it.
process.exit(found("redis-server") && found("redis-cli") ? 0 : 1);
