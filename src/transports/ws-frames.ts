/**
 * WebSocket framing for the server side: text frames encoded straight into one buffer per
 * connection per event-loop turn, with no frame string, no buffer per frame, and none of `ws`'s
 * per-send objects. Knows nothing of duet's ops: a frame is `head + body.slice(skip) + tail`.
 */

/** A connection frames are queued for (WsSink): its buffer while a flush encodes into it. */
export interface FrameTarget {
  /** Bytes of this connection's frames queued this turn (see flushFrames). */
  queuedBytes: number;
  /** While flushFrames runs: the buffer the queued frames are encoded into, and how far. */
  out: Buffer | null;
  outAt: number;
  /** Writes the frames flushFrames encoded for this connection. */
  writeOut(frames: Buffer): void;
}

/**
 * The frames of this turn, in order, one slot of each array per frame: the connection and the
 * frame's parts and payload length. The arrays are reused turn after turn (their slots cleared),
 * so queueing a frame makes no object.
 */
const queuedSinks: (FrameTarget | null)[] = [];
const queuedHeads: string[] = [];
const queuedBodies: string[] = [];
const queuedSkips: (0 | 1)[] = [];
const queuedTails: string[] = [];
const queuedLengths: number[] = [];
let queued = 0;
/** Connections with frames in the flush under way, in the order of their first frame. */
const flushing: FrameTarget[] = [];

/** Queues a frame of `sink`; returns its size on the wire (header included). */
export function queueFrame(sink: FrameTarget, head: string, body: string, skip: 0 | 1, tail: string): number {
  const length = payloadLength(head, body, skip, tail);
  if (queued === 0) process.nextTick(flushFrames);
  queuedSinks[queued] = sink;
  queuedHeads[queued] = head;
  queuedBodies[queued] = body;
  queuedSkips[queued] = skip;
  queuedTails[queued] = tail;
  queuedLengths[queued] = length;
  queued++;
  return headerLength(length) + length;
}

/**
 * Writes the frames queued so far: each connection's frames of the turn encoded into one buffer,
 * in the order they were sent, and written with one call (the text of each frame is encoded
 * once, straight into it; no frame string, no buffer per frame, none of `ws`'s per-send objects).
 * Runs at the end of every turn in which a frame was queued, and before anything `ws` writes
 * itself (pings, pongs, close frames), so that those stay in order with the frames.
 */
export function flushFrames(): void {
  const count = queued;
  if (count === 0) return;
  queued = 0;
  for (let i = 0; i < count; i++) {
    const sink = queuedSinks[i] as FrameTarget;
    let out = sink.out;
    if (out === null) {
      out = Buffer.allocUnsafe(sink.queuedBytes);
      sink.out = out;
      sink.outAt = 0;
      flushing.push(sink);
    }
    sink.outAt = encodeFrame(
      out,
      sink.outAt,
      // Every slot below `count` was written by queueFrame; the fallbacks only satisfy the types.
      queuedLengths[i] ?? 0,
      queuedHeads[i] ?? "",
      queuedBodies[i] ?? "",
      queuedSkips[i] ?? 0,
      queuedTails[i] ?? "",
    );
    queuedSinks[i] = null;
    queuedHeads[i] = "";
    queuedBodies[i] = "";
    queuedTails[i] = "";
  }
  try {
    for (const sink of flushing) {
      const out = sink.out as Buffer;
      sink.out = null;
      sink.queuedBytes = 0;
      sink.writeOut(out);
    }
  } finally {
    // Whatever happened to one connection's write, the next flush starts from nothing.
    for (const sink of flushing) {
      sink.out = null;
      sink.queuedBytes = 0;
    }
    flushing.length = 0;
  }
}

function payloadLength(head: string, body: string, skip: 0 | 1, tail: string): number {
  const bodyBytes = body.length === 0 ? 0 : Buffer.byteLength(body) - skip;
  return Buffer.byteLength(head) + bodyBytes + (tail.length === 0 ? 0 : Buffer.byteLength(tail));
}

/** The header's size for a payload of `length` bytes (RFC 6455 section 5.2). */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/**
 * Encodes into `out` at `at` an unmasked, unfragmented WebSocket text frame (as a server sends
 * it) whose payload, `length` bytes, is `head + body.slice(skip) + tail`; returns where it ends.
 * With `skip` 1 the body's first character (the `{` of an object) is dropped: `head` ends with
 * the character that replaces it.
 */
function encodeFrame(
  out: Buffer,
  at: number,
  length: number,
  head: string,
  body: string,
  skip: 0 | 1,
  tail: string,
): number {
  out[at] = 0x81; // FIN, text
  if (length < 126) {
    out[at + 1] = length;
    at += 2;
  } else if (length < 65536) {
    out[at + 1] = 126;
    out.writeUInt16BE(length, at + 2);
    at += 4;
  } else {
    out[at + 1] = 127;
    out.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
    out.writeUInt32BE(length >>> 0, at + 6);
    at += 10;
  }
  const headBytes = head.length === 0 ? 0 : Buffer.byteLength(head);
  if (body.length > 0) {
    // The body's skipped first character (one byte: "{") lands on head's last byte, which the
    // head written after it restores.
    out.write(body, at + headBytes - skip, "utf8");
  }
  if (headBytes > 0) out.write(head, at, "utf8");
  const end = at + length;
  if (tail.length > 0) out.write(tail, end - Buffer.byteLength(tail), "utf8");
  return end;
}

/** One frame on its own (for tests): the bytes flushFrames writes for it. */
export function textFrame(head: string, body: string, skip: 0 | 1, tail: string): Buffer {
  const length = payloadLength(head, body, skip, tail);
  const frame = Buffer.allocUnsafe(headerLength(length) + length);
  encodeFrame(frame, 0, length, head, body, skip, tail);
  return frame;
}
