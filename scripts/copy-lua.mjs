#!/usr/bin/env node
// tsc compiles src/ into dist/ but copies nothing else: the Redis store reads its Lua scripts next
// to its module (src/stores/redis/lua/*.lua), so the build copies them to the same place in dist/.
import { cpSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const from = join(root, "src", "stores", "redis", "lua");
const to = join(root, "dist", "stores", "redis", "lua");
mkdirSync(to, { recursive: true });
for (const file of readdirSync(from)) {
  if (file.endsWith(".lua")) cpSync(join(from, file), join(to, file));
}
