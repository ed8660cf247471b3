/**
 * The two packages as an app gets them, following README's "Use duet from your app" as written:
 * `npm pack` of duet-chat (the server) and duet-chat-client (the SDK), installed from the
 * tarballs into a scratch app with this machine's npm (11) and with npm 10; then `npx duet
 * --help`, the server started from the app's folder (SQLite in ./data), and the README's own token
 * and SDK code run against it, bob reading what alice sent.
 *
 * Offline-safe: the packs are made from a copy of this checkout (never rebuilding the dist/ other
 * tests run), dependencies come from the npm cache (`npm_config_prefer_offline`), and
 * better-sqlite3's install script finds its binary in a local prebuilds folder (prebuild-install's
 * `npm_config_better_sqlite3_local_prebuilds`, made from this machine's build) instead of
 * downloading it from GitHub as it does for users.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { packageBlocks, type ShellBlock } from "../docs/shell-blocks.js";
import { listeningUrl } from "../helpers/duet.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string };
const SERVER_TGZ = `${pkg.name}-${pkg.version}.tgz`;
const SDK_TGZ = `duet-chat-client-${pkg.version}.tgz`;

const WORK = mkdtempSync(join(tmpdir(), "duet-pack-"));
const children: { kill(signal: NodeJS.Signals): boolean }[] = [];

/** Runs a shell script to its end; rejects with its output when it fails. */
function sh(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ output: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const proc = spawn("bash", ["-c", `set -eo pipefail\n${script}`], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    proc.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    proc.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    proc.on("exit", (code) => {
      if (code === 0) resolve({ output, ms: Math.round(performance.now() - started) });
      else reject(new Error(`exit ${code} in ${cwd}:\n${script}\n---\n${output}`));
    });
  });
}

const blocks = packageBlocks(ROOT, "README.md");
const shellOf = (i: number): ShellBlock => {
  const block = blocks.filter((b) => b.lang === "sh")[i];
  assert.ok(block, `README.md has no package shell block #${i + 1}`);
  return block;
};
const codeFile = (name: string): string => {
  const block = blocks.find((b) => b.fileName === name);
  assert.ok(block, `README.md has no package block for ${name}`);
  return block.code;
};

/** A copy of this checkout's files (tracked and new, not ignored), sharing its node_modules. */
function copyCheckout(): string {
  const dir = join(WORK, "duet-src");
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: ROOT,
  })
    .toString()
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(ROOT, f)));
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file));
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** better-sqlite3's binary for this Node, where prebuild-install looks before downloading it. */
function localPrebuilds(): string {
  const dir = join(WORK, "prebuilds");
  const stage = join(dir, "stage");
  mkdirSync(join(stage, "build", "Release"), { recursive: true });
  const sqlite = join(ROOT, "node_modules", "better-sqlite3");
  const version = (JSON.parse(readFileSync(join(sqlite, "package.json"), "utf8")) as { version: string })
    .version;
  cpSync(
    join(sqlite, "build", "Release", "better_sqlite3.node"),
    join(stage, "build", "Release", "better_sqlite3.node"),
  );
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  execFileSync("tar", ["-C", stage, "-czf", join(dir, name), "build"]);
  return dir;
}

/** A folder with `npm` and `npx` of the given npm (the system's when `npmBin` is null). */
function npmShims(label: string, npmBin: string | null): string {
  const dir = join(WORK, `bin-${label}`);
  mkdirSync(dir, { recursive: true });
  if (npmBin !== null) {
    symlinkSync(npmBin, join(dir, "npm"));
    symlinkSync(join(dirname(npmBin), "npx"), join(dir, "npx"));
  }
  return dir;
}

function tarList(tgz: string): string[] {
  return execFileSync("tar", ["-tzf", tgz]).toString().trim().split("\n");
}

describe("the packages, installed from their tarballs as README says", () => {
  after(() => {
    for (const child of children) child.kill("SIGKILL");
  });

  let packs = "";
  it("npm pack builds both packages, each with what it needs and nothing of the other", async () => {
    const copy = copyCheckout();
    packs = join(WORK, "duet");
    mkdirSync(packs);
    const { ms } = await sh(shellOf(0).code, copy, { ...process.env, npm_config_pack_destination: packs });
    console.log(`npm pack (both, with their builds): ${ms} ms`);
    const server = tarList(join(packs, SERVER_TGZ));
    for (const file of [
      "package/bin/duet.js",
      "package/dist/cli.js",
      "package/dist/server.js",
      "package/demo/index.html",
    ])
      assert.ok(server.includes(file), `${SERVER_TGZ} lacks ${file}`);
    assert.ok(
      server.some((f) => /^package\/dist\/stores\/redis\/lua\/.+\.lua$/.test(f)),
      "no Lua scripts",
    );
    assert.ok(server.includes("package/demo/duet-client.js"), "no built demo SDK bundle");
    assert.equal(
      server.filter((f) => /^package\/(src|test|bench|packages)\//.test(f)).length,
      0,
      "sources packed",
    );
    const sdk = tarList(join(packs, SDK_TGZ));
    assert.ok(sdk.includes("package/dist/client/index.js") && sdk.includes("package/dist/client/index.d.ts"));
    assert.deepEqual(
      sdk.filter(
        (f) =>
          !/^package\/(package\.json|README\.md|dist\/client\/[\w-]+\.(js|d\.ts)|dist\/core\/types\.d\.ts)$/.test(
            f,
          ),
      ),
      [],
      "the SDK package holds only its build",
    );
    const manifest = JSON.parse(
      execFileSync("tar", ["-xzOf", join(packs, SDK_TGZ), "package/package.json"]).toString(),
    ) as Record<string, unknown>;
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"])
      assert.equal(manifest[field], undefined, `the SDK has ${field}`);
    // The SDK's code imports nothing but its own files (the server's types are types only).
    const extracted = join(WORK, "sdk-files");
    mkdirSync(extracted);
    execFileSync("tar", ["-xzf", join(packs, SDK_TGZ), "-C", extracted]);
    for (const file of sdk.filter((f) => f.endsWith(".js"))) {
      const code = readFileSync(join(extracted, file), "utf8");
      for (const [, spec = ""] of code.matchAll(/(?:import|export)\s[^;]*?from\s*"([^"]+)"/g))
        assert.match(spec, /^\.\/[\w-]+\.js$/, `${file} imports ${spec}`);
    }
  });

  const prebuilds = localPrebuilds();
  for (const npm of ["system", "10"] as const) {
    it(`installs with npm ${npm === "system" ? "(this machine's)" : "10"}, runs duet, and the README's SDK code talks to it`, async () => {
      assert.ok(packs, "the pack step did not run");
      let npmBin: string | null = null;
      if (npm === "10") {
        npmBin = execFileSync("npx", ["--prefer-offline", "-y", "-p", "npm@10", "-c", "command -v npm"], {
          cwd: WORK,
        })
          .toString()
          .trim();
      }
      const bin = npmShims(npm, npmBin);
      const env = {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        npm_config_prefer_offline: "true",
        npm_config_better_sqlite3_local_prebuilds: prebuilds,
        npm_config_audit: "false",
        npm_config_fund: "false",
      };
      const version = (await sh("npm --version", WORK, env)).output.trim();
      if (npm === "10") assert.match(version, /^10\./);

      // The SDK alone, as a browser or React Native app installs it.
      const sdkApp = join(WORK, `sdk-app-${npm}`);
      mkdirSync(sdkApp);
      writeFileSync(
        join(sdkApp, "package.json"),
        JSON.stringify({ name: "sdk-app", private: true, type: "module" }),
      );
      const sdkInstall = await sh(`npm install ${join(packs, SDK_TGZ)}`, sdkApp, env);
      const installed = execFileSync("ls", [join(sdkApp, "node_modules")])
        .toString()
        .trim()
        .split("\n");
      assert.deepEqual(installed, ["duet-chat-client"], "the SDK brought dependencies");

      // The server and the SDK, by the README's block, in an app beside the packs (`../duet`).
      const app = join(WORK, `app-${npm}`);
      mkdirSync(app);
      writeFileSync(
        join(app, "package.json"),
        JSON.stringify({ name: "my-app", private: true, type: "module" }),
      );
      const install = await sh(shellOf(1).code, app, env);
      console.log(
        `npm ${version}: SDK alone installed in ${sdkInstall.ms} ms; server + SDK + jose + ws installed (and duet --help) in ${install.ms} ms`,
      );
      assert.match(install.output, /Usage: duet \[options\]/);
      assert.ok(
        existsSync(join(app, "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node")),
        "better-sqlite3's install script did not run",
      );

      // The server, started from the app's folder on its default store.
      const secret = randomBytes(32).toString("hex");
      const server = spawn(
        join(app, "node_modules", ".bin", "duet"),
        ["--port", "0", "--host", "127.0.0.1"],
        {
          cwd: app,
          env: { PATH: process.env.PATH ?? "", DUET_JWT_SECRET: secret },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      children.push(server);
      const logs: string[] = [];
      const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)));
      server.stderr.on("data", (d: Buffer) => logs.push(d.toString()));
      const url = await listeningUrl(server, logs, exited);

      // README's backend and SDK code, as written, then bob (this test's code) reads it.
      writeFileSync(join(app, "token.mjs"), codeFile("token.mjs"));
      writeFileSync(join(app, "chat.mjs"), codeFile("chat.mjs"));
      writeFileSync(
        join(app, "bob.mjs"),
        `import { connect } from "duet-chat-client";
import WebSocket from "ws";
import { tokenFor } from "./token.mjs";
const chat = connect({ url: process.env.DUET_URL, getToken: () => tokenFor("bob"), WebSocket });
await chat.online();
console.log(JSON.stringify(await chat.unread("alice")));
chat.close();
`,
      );
      const appEnv = { PATH: process.env.PATH ?? "", DUET_URL: url, DUET_JWT_SECRET: secret };
      const alice = await sh("node chat.mjs", app, appEnv);
      assert.match(alice.output, /stored [0-9A-Z]{26}/, alice.output);
      const bob = await sh("node bob.mjs", app, appEnv);
      const unread = JSON.parse(bob.output.trim().split("\n").at(-1) ?? "[]") as {
        from: string;
        text: string;
      }[];
      assert.deepEqual(
        unread.map((m) => [m.from, m.text]),
        [["alice", "hi bob"]],
      );
      assert.ok(existsSync(join(app, "data", "duet.db")), "the server's data is not in the app's ./data");
      server.kill("SIGTERM");
      assert.equal(await exited, 0, logs.join(""));
    });
  }
});
