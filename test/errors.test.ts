/** Pins the error registry (src/core/errors.ts) against docs/ERRORS.md, and the registry's own rules. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { errorTableSource } from "../scripts/error-table.js";
import {
  type ClientAdvice,
  closeCodeOf,
  DuetError,
  ERRORS,
  type ErrorCode,
  OTHER_CLOSE_CODES,
  toDuetError,
} from "../src/core/errors.js";

interface DocRow extends ClientAdvice {
  status: number;
  close: number | null;
}

const DOC = readFileSync(new URL("../docs/ERRORS.md", import.meta.url), "utf8");

/** The retry and reconnect columns: yes, no, or (reconnect) "new token". */
function advice(code: string, retry: string, reconnect: string): ClientAdvice {
  assert.match(retry, /^(yes|no)$/, `${code}: retry`);
  assert.match(reconnect, /^(yes|no|new token)$/, `${code}: reconnect`);
  return { retry: retry === "yes", reconnect: reconnect === "new token" ? "new_token" : reconnect === "yes" };
}

/** The rows of the table in docs/ERRORS.md: | `code` | status | close or — | retry | reconnect | meaning |. */
function documented(): Map<string, DocRow> {
  const rows = new Map<string, DocRow>();
  for (const line of DOC.split("\n")) {
    const m =
      /^\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([^|]*?)\s*\|$/.exec(
        line,
      );
    if (!m) continue;
    const [, code = "", status = "", close = "", retry = "", reconnect = "", meaning = ""] = m;
    assert.ok(!rows.has(code), `${code} is documented twice`);
    assert.match(status, /^\d{3}$/, `${code}: status`);
    assert.match(close, /^(\d{4}|—)$/, `${code}: close code`);
    assert.ok(meaning.length > 10, `${code}: no meaning`);
    rows.set(code, {
      status: Number(status),
      close: close === "—" ? null : Number(close),
      ...advice(code, retry, reconnect),
    });
  }
  return rows;
}

/** The close codes table: | 1000 | retry | reconnect | meaning |. */
function documentedCloses(): Map<number, ClientAdvice & { meaning: string }> {
  const rows = new Map<number, ClientAdvice & { meaning: string }>();
  for (const line of DOC.split("\n")) {
    const m = /^\|\s*(\d{4})\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([^|]*?)\s*\|$/.exec(line);
    if (!m) continue;
    const [, close = "", retry = "", reconnect = "", meaning = ""] = m;
    rows.set(Number(close), { ...advice(close, retry, reconnect), meaning });
  }
  return rows;
}

const codes = Object.keys(ERRORS) as ErrorCode[];

describe("the error registry", () => {
  it("is documented in docs/ERRORS.md, code for code, with the same numbers", () => {
    const docs = documented();
    assert.deepEqual([...docs.keys()].sort(), [...codes].sort());
    for (const code of codes) {
      const entry: ClientAdvice & { status: number; close?: number } = ERRORS[code];
      assert.deepEqual(
        docs.get(code),
        { status: entry.status, close: entry.close ?? null, retry: entry.retry, reconnect: entry.reconnect },
        code,
      );
    }
  });

  it("documents the close codes that name no error, with their advice", () => {
    const closes = documentedCloses();
    assert.deepEqual(
      Object.fromEntries([...closes].map(([close, row]) => [close, row])),
      Object.fromEntries(Object.entries(OTHER_CLOSE_CODES).map(([close, row]) => [close, { ...row }])),
    );
    const registryCloses = codes.map(
      (code): number | undefined => (ERRORS[code] as { close?: number }).close,
    );
    for (const close of closes.keys()) assert.ok(!registryCloses.includes(close), `${close} is an error's`);
  });

  it("is what the SDK reads: src/client/error-table.ts is generated from it (npm run docs)", () => {
    const committed = readFileSync(new URL("../src/client/error-table.ts", import.meta.url), "utf8");
    assert.equal(committed, errorTableSource(), "src/client/error-table.ts is stale: run `npm run docs`");
  });

  it("never tells a client to retry a request it must not come back for", () => {
    for (const code of codes) {
      const entry: ClientAdvice = ERRORS[code];
      if (entry.retry) assert.equal(entry.reconnect, true, code);
    }
  });

  it("uses snake_case codes, error statuses, and distinct close codes in the allowed ranges", () => {
    const closes = new Map<number, string>();
    for (const code of codes) {
      const entry: { status: number; message: string; close?: number } = ERRORS[code];
      assert.match(code, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      assert.ok(entry.status >= 400 && entry.status <= 599, code);
      assert.ok(entry.message.length > 0 && entry.message.endsWith("."), code);
      if (entry.close !== undefined) {
        // 1000-2999 are the protocol's (only the defined 1008-1013 make sense), 4000-4999 are ours.
        assert.ok(
          [1008, 1009, 1011, 1012, 1013].includes(entry.close) || (entry.close >= 4000 && entry.close < 5000),
          code,
        );
        assert.ok(!closes.has(entry.close), `${code} and ${closes.get(entry.close)} share ${entry.close}`);
        closes.set(entry.close, code);
      }
    }
  });

  it("builds errors with the registry's status, message and close code", () => {
    for (const code of codes) {
      const err = new DuetError(code);
      assert.equal(err.code, code);
      assert.equal(err.status, ERRORS[code].status);
      assert.equal(err.message, ERRORS[code].message);
      assert.deepEqual(err.toJSON(), { code, message: ERRORS[code].message });
      const entry: { status: number; close?: number } = ERRORS[code];
      assert.equal(closeCodeOf(code), entry.close ?? 1011);
    }
    const specific = new DuetError("rate_limited", "Slow down.", 3);
    assert.deepEqual(specific.toJSON(), { code: "rate_limited", message: "Slow down." });
    assert.equal(specific.retryAfter, 3);
    assert.equal(
      JSON.stringify({ error: specific }),
      '{"error":{"code":"rate_limited","message":"Slow down."}}',
    );
  });

  it("turns anything else into internal, without leaking its message", () => {
    const err = toDuetError(new Error("SQLITE_CORRUPT: secret path /var/db"));
    assert.equal(err.code, "internal");
    assert.equal(err.status, 500);
    assert.doesNotMatch(err.message, /SQLITE|secret/);
    const same = new DuetError("blocked");
    assert.equal(toDuetError(same), same);
  });

  it("keeps a store failure's detail for the log and gives the client duet's own words", () => {
    const detail = "Redis: Stream isn't writeable and enableOfflineQueue options is false";
    const err = new DuetError("store_unavailable", detail, 1);
    assert.equal(err.detail, detail);
    assert.equal(err.message, ERRORS.store_unavailable.message);
    assert.equal(
      JSON.stringify(err),
      JSON.stringify({ code: "store_unavailable", message: ERRORS.store_unavailable.message }),
    );
    assert.equal(err.retryAfter, 1);
    // Errors meant for the client keep the message they are given, and have no detail.
    assert.equal(new DuetError("invalid_input", "`to` is required.").detail, undefined);
  });
});
