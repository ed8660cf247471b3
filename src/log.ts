import pino from "pino";

export type Logger = pino.Logger;

/** JSON lines on stdout. Callers never pass tokens or message text. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
