/**
 * Every shell example in README.md and docs/*.md runs as written (docs/*.md and README.md are
 * parsed by ./shell-blocks.ts). Plain blocks run in order, in one bash per file (`set -eo
 * pipefail`; a block may use what an earlier one of its file defined), against a dev server
 * started as `npm start` starts it; `curl` fails on any HTTP error (`--fail-with-body`). Blocks
 * marked `server` run in the background until their duet processes log "listening". Blocks
 * marked `skip` are listed with their reason, and that list is pinned here.
 *
 * Two things differ from a reader's terminal, both because tests share the machine: the ports the
 * docs name (8080, 6379, 7000-7005, ...) are replaced by free ones, and `npx duet` runs this
 * checkout's bin/duet.js (as it does in a clone).
 */

import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { listeningUrl } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { docFiles, shellBlocks } from "./shell-blocks.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DUET_BIN = join(ROOT, "bin", "duet.js");
/** The ports the docs use; each becomes a free port (with port+10000 free too: Redis Cluster's bus). */
const DOC_PORTS = /\b(6379|700[0-5]|808[0-2])\b/g;
const REDIS_PORTS = new Set(["6379", "7000", "7001", "7002", "7003", "7004", "7005"]);

/** The blocks that may not run, and why; a new one must be added here on purpose. */
const SKIPPED = [
  "README.md: installs, and runs the whole suite (this test included)",
  "README.md: each command stays open until Ctrl-C (websocat is not installed here)",
  "README.md: benchmarks run for minutes (test/bench/smoke.test.ts runs each workload briefly)",
  "docs/PERFORMANCE.md: benchmarks run for minutes (test/bench/smoke.test.ts runs each workload briefly)",
];

const groups = new Set<number>();
process.on("exit", () => {
  for (const pgid of groups) killGroup(pgid, "SIGKILL");
});

function killGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

async function stopGroup(pgid: number): Promise<void> {
  killGroup(pgid, "SIGTERM");
  for (let i = 0; i < 100 && killGroup(pgid, 0); i++) await sleep(100);
  killGroup(pgid, "SIGKILL");
  groups.delete(pgid);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

const taken = new Set<number>();
async function freeDocPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
}

/** A folder of shims put first on PATH: curl fails on HTTP errors; `npx duet` is this checkout's. */
function shims(): string {
  const dir = mkdtempSync(join(tmpdir(), "duet-doc-bin-"));
  const realCurl = execFileSync("sh", ["-c", "command -v curl"]).toString().trim();
  const realNpx = execFileSync("sh", ["-c", "command -v npx"]).toString().trim();
  const write = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  write("curl", `exec ${realCurl} --fail-with-body --max-time 30 "$@"`);
  write(
    "npx",
    `if [ "$1" = duet ]; then shift; exec "${process.execPath}" "${DUET_BIN}" "$@"; fi\nexec ${realNpx} "$@"`,
  );
  return dir;
}

interface Started {
  proc: ChildProcess;
  output: string[];
}

function startShell(script: string, cwd: string, path: string, env: Record<string, string> = {}): Started {
  const proc = spawn("bash", ["-c", script], {
    cwd,
    detached: true,
    env: { ...process.env, PATH: `${path}:${process.env.PATH}`, DUET_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (proc.pid !== undefined) groups.add(proc.pid);
  const output: string[] = [];
  proc.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
  proc.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
  return { proc, output };
}

const listeningCount = (output: string[]) =>
  output
    .join("")
    .split("\n")
    .filter((l) => /"msg":"listening"/.test(l)).length;

/** Starts `npm start`'s command (checked against package.json) in `dir`; resolves with its URL. */
async function startDevServer(
  dir: string,
  env: Record<string, string>,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.start, "node bin/duet.js --dev", "npm start changed: update this test");
  const proc = spawn(process.execPath, [DUET_BIN, "--dev"], {
    cwd: dir,
    detached: true,
    env: { ...process.env, DUET_PORT: "0", DUET_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  groups.add(proc.pid!);
  const logs: string[] = [];
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  proc.stderr?.on("data", (d: Buffer) => logs.push(d.toString()));
  const url = await listeningUrl(proc, logs, exited);
  return { url, stop: () => stopGroup(proc.pid!) };
}

async function waitListening(
  started: Started,
  want: number,
  what: string,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null = null;
  started.proc.on("exit", (code) => {
    exitCode = code ?? -1;
  });
  while (listeningCount(started.output) < want) {
    // The shell may end (its servers run in the background): only a failed shell is an error.
    if (exitCode !== null && exitCode !== 0)
      throw new Error(`${what} exited with ${exitCode}:\n${started.output.join("")}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start in time:\n${started.output.join("")}`);
    await sleep(100);
  }
}

const files = docFiles(ROOT);
const byFile = new Map(files.map((file) => [file, shellBlocks(ROOT, file)]));
const bin = shims();

describe("shell examples in the docs", () => {
  after(async () => {
    for (const pgid of [...groups]) await stopGroup(pgid);
  });

  it("annotate only the blocks that cannot run, each with its reason", () => {
    const all = [...byFile.values()].flat();
    assert.ok(all.length >= 8, `only ${all.length} shell blocks found`);
    const skipped = all.filter((b) => b.mode === "skip").map((b) => `${b.file}: ${b.reason}`);
    assert.deepEqual(skipped, SKIPPED);
  });

  for (const file of files) {
    const blocks = byFile.get(file) ?? [];
    const runs = blocks.filter((b) => b.mode === "run");
    const servers = blocks.filter((b) => b.mode === "server");
    if (runs.length > 0) {
      it(`${file}: ${runs.length} block(s) run against npm start`, async () => {
        const dir = mkdtempSync(join(tmpdir(), "duet-doc-"));
        // API.md's server API examples run against a dev server started the way it says.
        const key = /`DUET_API_KEY=(\S+) npm start`/.exec(
          readFileSync(join(ROOT, "docs/API.md"), "utf8"),
        )?.[1];
        assert.ok(key, "docs/API.md no longer says how to start the dev server with an API key");
        const dev = await startDevServer(dir, { DUET_API_KEY: key });
        try {
          const port = new URL(dev.url).port;
          const script = [
            "set -eo pipefail",
            ...runs.map((b) => `echo "### ${b.file}:${b.line}" >&2\n${b.code.replace(/\b8080\b/g, port)}`),
          ].join("\n");
          const shell = startShell(script, dir, bin);
          const code = await new Promise<number | null>((resolve) => shell.proc.on("exit", resolve));
          const output = shell.output.join("");
          assert.equal(code, 0, `${file}'s shell examples failed:\n${output}`);
          // A curl that printed an error body would have failed above; this catches a silent one.
          assert.doesNotMatch(output, /"error":\{"code"/, output);
        } finally {
          await dev.stop();
        }
      });
    }
    if (servers.length > 0) {
      it(`${file}: ${servers.length} block(s) start their servers`, async () => {
        const dir = mkdtempSync(join(tmpdir(), "duet-doc-srv-"));
        const ports = new Map<string, number>();
        const kept: number[] = [];
        try {
          for (const block of servers) {
            for (const doc of block.code.match(DOC_PORTS) ?? []) {
              if (!ports.has(doc)) ports.set(doc, await freeDocPort());
            }
            const code = block.code.replace(DOC_PORTS, (doc) => String(ports.get(doc)));
            const started = startShell(`set -e\n${code}`, dir, bin);
            const what = `${block.file}:${block.line}`;
            try {
              await waitListening(started, block.listening, what);
            } finally {
              if (block.keep) kept.push(started.proc.pid!);
              else await stopGroup(started.proc.pid!);
            }
          }
        } finally {
          for (const pgid of kept) await stopGroup(pgid);
          // Redis started with --daemonize left the process group: ask each to stop.
          for (const [doc, port] of ports) {
            if (!REDIS_PORTS.has(doc)) continue;
            try {
              execFileSync("redis-cli", ["-p", String(port), "shutdown", "nosave"], {
                stdio: "ignore",
                timeout: 5000,
              });
            } catch {
              // not running
            }
          }
        }
      });
    }
  }
});
