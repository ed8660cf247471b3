/** Refused requests summarised in the log: the first at once, then at most one line a minute per kind. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RejectionLog } from "../../src/ops/rejection-log.js";
import { at } from "../helpers/kit.js";
import { captureLog } from "./log-capture.js";

describe("RejectionLog", () => {
  it("logs the first rejection of a kind at once and the rest of the minute as one line", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    const { log, lines } = captureLog("info");
    const rejections = new RejectionLog(log);
    rejections.note("unauthorized", 401);
    assert.equal(lines.length, 1);
    assert.deepEqual(
      {
        msg: at(lines, 0).msg,
        kind: at(lines, 0).kind,
        count: at(lines, 0).count,
        codes: at(lines, 0).codes,
      },
      { msg: "requests rejected", kind: "auth", count: 1, codes: { unauthorized: 1 } },
    );
    // 948 more within the minute, of two codes: nothing until the minute is over.
    for (let i = 0; i < 940; i++) rejections.note("unauthorized", 401);
    for (let i = 0; i < 8; i++) rejections.note("token_expired", 401);
    t.mock.timers.tick(59_999);
    assert.equal(lines.length, 1);
    t.mock.timers.tick(1);
    assert.equal(lines.length, 2);
    assert.equal(at(lines, 1).kind, "auth");
    assert.equal(at(lines, 1).count, 948);
    assert.deepEqual(at(lines, 1).codes, { unauthorized: 940, token_expired: 8 });
    assert.equal(at(lines, 1).sinceMs, 60_000);
    // A quiet minute logs nothing; the next rejection after it is logged at once again.
    t.mock.timers.tick(120_000);
    assert.equal(lines.length, 2);
    rejections.note("unauthorized", 401);
    assert.equal(lines.length, 3);
    assert.equal(at(lines, 2).count, 1);
    rejections.close();
  });

  it("keeps one window per kind, and ignores statuses it does not watch", (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 5_000_000 });
    const { log, lines } = captureLog("info");
    const rejections = new RejectionLog(log);
    rejections.note("rate_limited", 429);
    rejections.note("payload_too_large", 413);
    rejections.note("headers_too_large", 431);
    rejections.note("unauthorized", 401);
    rejections.note("invalid_input", 400);
    rejections.note("not_found", 404);
    assert.deepEqual(
      lines.map((l) => [l.kind, l.count]),
      [
        ["rate_limited", 1],
        ["too_large", 1],
        ["auth", 1],
      ],
    );
    for (let i = 0; i < 100; i++) rejections.note("rate_limited", 429);
    // What is still counted is flushed by close (shutdown) rather than lost.
    rejections.close();
    assert.deepEqual(
      lines.slice(3).map((l) => [l.kind, l.codes]),
      [
        ["rate_limited", { rate_limited: 100 }],
        ["too_large", { headers_too_large: 1 }],
      ],
    );
    t.mock.timers.tick(120_000);
    assert.equal(lines.length, 5);
  });
});
