import pino from "pino";

export type Logger = pino.Logger;

/** JSON lines on stdout (or `destination`). Callers never pass tokens or message text. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination === undefined ? pino(options) : pino(options, destination);
}
