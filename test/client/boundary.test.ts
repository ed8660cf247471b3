import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";

const DIR = new URL("../../src/client/", import.meta.url);

test("the SDK imports nothing from the server: only its own files, and types from core/types", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".ts"));
  assert.ok(files.includes("index.ts"));
  for (const file of files) {
    const source = readFileSync(new URL(file, DIR), "utf8");
    const imports = [...source.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gms)];
    for (const [statement, , typeOnly, from = ""] of imports) {
      if (from.startsWith("./")) continue;
      assert.equal(from, "../core/types.js", `${file}: ${statement}`);
      assert.ok(typeOnly, `${file} must use "import type" / "export type" for ${from}`);
    }
    assert.doesNotMatch(source, /\bimport\(|\brequire\(/, `${file}: no dynamic imports`);
  }
});
