/** Starting duet for tests: in this process (fast, inspectable) or as a real child process. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type Config, loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { type RunningServer, startServer } from "../../src/server.js";
import { signToken } from "./kit.js";
import { assertResponse } from "./protocol-check.js";

export const SECRET = "test-secret-0123456789abcdef0123456789";
export const API_KEY = "test-api-key-0123456789abcdef";
const ROOT = new URL("../../", import.meta.url);

export function tempDbUrl(): string {
  return `sqlite:${join(mkdtempSync(join(tmpdir(), "duet-test-")), "duet.db")}`;
}

/** A token for `user`, signed like an app backend would (HS256, the test secret unless given). */
export function tokenFor(user: string, ttlSeconds = 3600, secret = SECRET): Promise<string> {
  return signToken(user, secret, ttlSeconds);
}

export interface TestServer extends RunningServer {
  config: Config;
}

/** Starts duet in this process on a free port with a fresh SQLite file unless `store` is given. */
export async function startDuet(options: Record<string, string> = {}): Promise<TestServer> {
  const env: Record<string, string> = {
    DUET_PORT: "0",
    DUET_HOST: "127.0.0.1",
    DUET_JWT_SECRET: SECRET,
    DUET_API_KEY: API_KEY,
    DUET_STORE: tempDbUrl(),
    DUET_LOG_LEVEL: "silent",
    ...options,
  };
  const { config } = loadConfig([], env);
  const server = await startServer(config, createLogger(config.logLevel));
  return Object.assign(server, { config });
}

export interface ChildDuet {
  url: string;
  proc: ChildProcess;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string>;
  logs: string[];
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/** The environment of a duet child process: the test secret and key, a free port, `env` on top. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DUET_PORT: "0",
    DUET_HOST: "127.0.0.1",
    DUET_JWT_SECRET: SECRET,
    DUET_API_KEY: API_KEY,
    DUET_LOG_LEVEL: "info",
    ...env,
  };
}

/** Runs `duet` as a real process (src/cli.ts through tsx) and waits for its "listening" line. */
export async function spawnDuet(env: Record<string, string> = {}, args: string[] = []): Promise<ChildDuet> {
  // `npm test` builds first and sets DUET_SPAWN_DIST: children run the built CLI (what users run,
  // and far quicker to start); run alone, a test compiles src/ through tsx.
  const entry = process.env.DUET_SPAWN_DIST === "1" ? ["dist/cli.js"] : ["--import", "tsx", "src/cli.ts"];
  const proc = spawn(process.execPath, [...entry, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | string>((resolve) => {
    proc.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  proc.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
  const url = await listeningUrl(proc, logs, exited);
  return {
    url,
    proc,
    exited,
    logs,
    kill(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** fetch with a user's token and JSON. */
export async function api(
  base: string,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  assertResponse(method, base + path, res.status, res.headers.get("content-type"), text);
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/**
 * The URL a starting duet process logs in its "listening" line (its log lines are kept in `logs`,
 * at most `maxLogs` of them); rejects if it exits first or is not listening within 60 s.
 */
export function listeningUrl(
  proc: ChildProcess,
  logs: string[],
  exited: Promise<unknown>,
  maxLogs = Number.POSITIVE_INFINITY,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    // Generous: tsx compiling the server on a loaded machine can take well over 20 s.
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`duet did not start:\n${logs.join("")}`));
    }, 60_000);
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (logs.length < maxLogs) logs.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === "listening" && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`duet exited (${String(code)}) before listening:\n${logs.join("\n")}`));
    });
  });
}
