/** A logger whose JSON lines land in an array, for tests that read what an operator would read. */
import { createLogger, type Logger } from "../../src/log.js";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export const WARN = 40;
export const INFO = 30;
export const DEBUG = 20;

export function captureLog(level = "debug"): { log: Logger; lines: LogLine[]; text: () => string } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const log = createLogger(level, {
    write(line: string) {
      raw.push(line);
      lines.push(JSON.parse(line) as LogLine);
    },
  });
  return { log, lines, text: () => raw.join("") };
}
