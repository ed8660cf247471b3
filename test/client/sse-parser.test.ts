import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay } from "../../src/client/backoff.js";
import { type SseMessage, SseParser } from "../../src/client/sse-parser.js";

function parse(chunks: string[]): { messages: SseMessage[]; comments: number } {
  const messages: SseMessage[] = [];
  let comments = 0;
  const parser = new SseParser(
    (m) => messages.push(m),
    () => comments++,
  );
  for (const c of chunks) parser.feed(c);
  return { messages, comments };
}

test("SSE: events as duet frames them, split at every possible byte", () => {
  const wire =
    'id: 1\ndata: {"type":"message","seq":1}\n\n: ping\n\ndata: {"type":"typing","from":"bob"}\n\n';
  const whole = parse([wire]);
  assert.deepEqual(whole.messages, [
    { data: '{"type":"message","seq":1}', id: "1" },
    { data: '{"type":"typing","from":"bob"}', id: "1" }, // the last event id persists, per the standard
  ]);
  assert.equal(whole.comments, 1);
  for (let i = 1; i < wire.length; i++) {
    assert.deepEqual(parse([wire.slice(0, i), wire.slice(i)]).messages, whole.messages, `split at ${i}`);
  }
  assert.deepEqual(parse([...wire]).messages, whole.messages, "one character at a time");
});

test("SSE: CRLF and CR line ends (a CRLF split across chunks counts once), multi-line data", () => {
  const crlf = parse(["data: a\r", "\ndata: b\r\n\r", "\n"]);
  assert.deepEqual(crlf.messages, [{ data: "a\nb" }]);
  // A CR that ends a chunk may be half of a CRLF: it takes effect when the next byte arrives.
  assert.deepEqual(parse(["data: x\r\rdata:y\r\r"]).messages, [{ data: "x" }]);
  assert.deepEqual(parse(["data: x\r\rdata:y\r\r", ":"]).messages, [{ data: "x" }, { data: "y" }]);
});

test("SSE: fields without data, unknown fields and a trailing partial event dispatch nothing", () => {
  const r = parse(["event: hello\n\nretry: 10\nfoo: bar\n\ndata: never ends"]);
  assert.deepEqual(r.messages, []);
  const named = parse(["event: custom\ndata:no-space\n\n"]);
  assert.deepEqual(named.messages, [{ data: "no-space", event: "custom" }]);
});

test("backoff grows exponentially, is capped, and jitters between half and all of the step", () => {
  const options = { initialMs: 100, maxMs: 1000 };
  assert.equal(
    backoffDelay(0, options, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(0, options, () => 1),
    100,
  );
  assert.equal(
    backoffDelay(3, options, () => 1),
    800,
  );
  assert.equal(
    backoffDelay(4, options, () => 1),
    1000,
  );
  assert.equal(
    backoffDelay(4, options, () => 0),
    500,
  );
  assert.equal(
    backoffDelay(1000, options, () => 0.5),
    750,
  );
});
