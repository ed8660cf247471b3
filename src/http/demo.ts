import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DuetError } from "../core/errors.js";
import type { RouteContext } from "./router.js";

/** demo/ at the package root: the same from src/http (tsx) and dist/http (built). */
const DEMO_DIR = fileURLToPath(new URL("../../demo/", import.meta.url));
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".map": "application/json",
};
const SAFE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Serves the demo page's files (dev mode only). Names are checked, never joined blindly. */
export async function serveDemo(ctx: RouteContext, file: string): Promise<void> {
  const type = TYPES[extname(file)];
  if (!SAFE_NAME.test(file) || file.includes("..") || type === undefined) throw new DuetError("not_found");
  let body: Buffer;
  try {
    body = await readFile(join(DEMO_DIR, file));
  } catch {
    throw new DuetError("not_found");
  }
  ctx.res.writeHead(200, {
    "content-type": type,
    "content-length": body.length,
    "cache-control": "no-cache",
  });
  ctx.res.end(body);
}
