import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ContactKind,
  kindsOf,
  MASK,
  maskText,
  screenText,
} from "../../src/core/safety/contact-screen.js";
import { TABLE } from "./contact-screen-table.js";

const KINDS: ContactKind[] = ["phone", "email", "handle"];

describe("contact-info screen", () => {
  it("has a table of at least 150 labelled examples, positives and negatives", () => {
    assert.ok(TABLE.length >= 150, `${TABLE.length} examples`);
    assert.ok(TABLE.filter(([, k]) => k.length === 0).length >= 60);
    assert.ok(TABLE.filter(([, k]) => k.length > 0).length >= 60);
  });

  it("meets its precision and recall floors on the table (per kind and overall)", () => {
    // Per example and kind: a true positive when the kind is labelled and found.
    const counts = Object.fromEntries(KINDS.map((k) => [k, { tp: 0, fp: 0, fn: 0 }])) as Record<
      ContactKind,
      { tp: number; fp: number; fn: number }
    >;
    const wrong: string[] = [];
    for (const [text, labelled] of TABLE) {
      const found = kindsOf(screenText(text));
      for (const kind of KINDS) {
        const want = labelled.includes(kind);
        const got = found.includes(kind);
        if (want && got) counts[kind].tp++;
        else if (got) counts[kind].fp++;
        else if (want) counts[kind].fn++;
      }
      if (found.join() !== [...labelled].sort((a, b) => KINDS.indexOf(a) - KINDS.indexOf(b)).join())
        wrong.push(`${JSON.stringify(text)}: want [${labelled}] got [${found}]`);
    }
    const total = { tp: 0, fp: 0, fn: 0 };
    const rows: string[] = [];
    for (const kind of KINDS) {
      const c = counts[kind];
      total.tp += c.tp;
      total.fp += c.fp;
      total.fn += c.fn;
      rows.push(
        `${kind.padEnd(7)} tp ${c.tp} fp ${c.fp} fn ${c.fn} precision ${(c.tp / (c.tp + c.fp)).toFixed(3)} recall ${(c.tp / (c.tp + c.fn)).toFixed(3)}`,
      );
    }
    const precision = total.tp / (total.tp + total.fp);
    const recall = total.tp / (total.tp + total.fn);
    rows.push(
      `all     tp ${total.tp} fp ${total.fp} fn ${total.fn} precision ${precision.toFixed(3)} recall ${recall.toFixed(3)}`,
    );
    console.log(
      `contact screen on ${TABLE.length} examples:\n${rows.join("\n")}\nmisjudged:\n${wrong.join("\n") || "(none)"}`,
    );
    assert.ok(precision >= 0.95, `precision ${precision}`);
    assert.ok(recall >= 0.9, `recall ${recall}`);
    for (const kind of KINDS) {
      const c = counts[kind];
      assert.ok(c.tp / (c.tp + c.fp) >= 0.9, `${kind} precision`);
      assert.ok(c.tp / (c.tp + c.fn) >= 0.85, `${kind} recall`);
    }
  });

  it("reports where each finding is, and masks exactly those ranges", () => {
    const text = "call 555-123-4567 or mail jane@gmail.com, ig @jane_d";
    const findings = screenText(text);
    assert.deepEqual(
      findings.map((f) => [f.kind, text.slice(f.start, f.end)]),
      [
        ["phone", "555-123-4567"],
        ["email", "jane@gmail.com"],
        ["handle", "@jane_d"],
      ],
    );
    assert.equal(maskText(text, findings), `call ${MASK} or mail ${MASK}, ig ${MASK}`);
  });

  it("masks spelled-out numbers and e-mails as a whole", () => {
    const text = "five five five one two three four, or jane at gmail dot com!";
    const masked = maskText(text, screenText(text));
    assert.equal(masked, `${MASK}, or ${MASK}!`);
  });

  it("keeps a link to a chat as one finding, not a handle and a phone", () => {
    const findings = screenText("wa.me/15551234567 ok");
    assert.deepEqual(findings, [{ kind: "handle", start: 0, end: 17 }]);
  });

  it("finds nothing in text with no digits, @ or platform words, and in the empty string", () => {
    assert.deepEqual(screenText(""), []);
    assert.deepEqual(screenText("hello there, how are you?"), []);
    assert.equal(maskText("hello", []), "hello");
  });

  it("stays fast on hostile text (long digit runs, many @, 4000 characters)", () => {
    const hostile = [
      "1 ".repeat(2000),
      "@".repeat(4000),
      "a@".repeat(2000),
      "insta ".repeat(666),
      "five ".repeat(800),
      `${"a".repeat(3990)}@b.com`,
      "jane at ".repeat(500),
      "(".repeat(2000) + "1".repeat(2000),
    ];
    for (const text of hostile) {
      const start = performance.now();
      screenText(text);
      const ms = performance.now() - start;
      assert.ok(ms < 250, `${JSON.stringify(text.slice(0, 20))}…: ${ms.toFixed(1)} ms`);
    }
  });
});
