import { readFileSync } from "node:fs";

/** duet's version, from its package.json (one directory up from src/ and from dist/). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
