/**
 * The WebSocket frames duet writes itself (textFrame): byte for byte what `ws` frames for the
 * same text, at every length encoding (7-bit, 16-bit, 64-bit) and with multi-byte characters,
 * with the event's leading "{" replaced by the head's last character.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { textFrame } from "../../src/transports/ws-frames.js";

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
/** ws's own framing (not in its type declarations). */
const { Sender } = createRequire(import.meta.url)("ws") as {
  Sender: {
    frame(data: Buffer, options: FrameOptions): Buffer[];
  };
};

/** The frame `ws` itself sends for `text`, as a server (unmasked, one fragment). */
function wsFrame(text: string): Buffer {
  const parts = Sender.frame(Buffer.from(text), {
    fin: true,
    opcode: 1,
    mask: false,
    readOnly: false,
    rsv1: false,
  });
  return Buffer.concat(parts);
}

const HEAD = '{"op":"event",';

test("an event frame is the event's JSON behind the head, framed as ws frames it", () => {
  for (const size of [0, 1, 50, 109, 110, 111, 124, 125, 126, 127, 1000, 65_000, 65_535, 65_536, 70_000]) {
    for (const char of ["x", "é", "€", "😀"]) {
      const json = JSON.stringify({ type: "message", seq: 7, text: char.repeat(size) });
      const expected = `${HEAD}${json.slice(1)}`;
      const frame = textFrame(HEAD, json, 1, "");
      assert.deepEqual(frame, wsFrame(expected), `size ${size} of ${char}`);
      assert.deepEqual(JSON.parse(frame.subarray(frame.length - Buffer.byteLength(expected)).toString()), {
        op: "event",
        type: "message",
        seq: 7,
        text: char.repeat(size),
      });
    }
  }
});

test("a result frame is head, body and tail; a complete frame is its head alone", () => {
  for (const ref of ["r1", "ré", "x".repeat(64)]) {
    const message = JSON.stringify({ id: "m", text: "€".repeat(200) });
    const head = `{"op":"result","ref":${JSON.stringify(ref)},"message":`;
    assert.deepEqual(textFrame(head, message, 0, "}"), wsFrame(`${head}${message}}`));
  }
  assert.deepEqual(textFrame('{"op":"pong"}', "", 0, ""), wsFrame('{"op":"pong"}'));
  const error = JSON.stringify({ op: "error", error: { code: "invalid_input", message: "é".repeat(300) } });
  assert.deepEqual(textFrame(error, "", 0, ""), wsFrame(error));
});
