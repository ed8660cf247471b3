/**
 * Settles when a writable (a socket, an HTTP response) emits `drain` — it has flushed what it
 * buffered past its high-water mark — or `close`. Sinks use it to pace replays (Sink.whenWritable).
 */
export function drained(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}
