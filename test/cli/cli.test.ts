/** The `duet` command (SPEC section 8): --help, flags and environment variables, bad values. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig, OPTIONS } from "../../src/config.js";
import { api, listeningUrl, spawnDuet, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";

const ROOT = new URL("../../", import.meta.url);

/** Runs `duet args` to its end with exactly `env` (plus PATH). */
function runDuet(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Like spawnDuet: the built CLI under `npm test` (DUET_SPAWN_DIST=1), src/ through tsx otherwise.
    const entry = process.env.DUET_SPAWN_DIST === "1" ? ["dist/cli.js"] : ["--import", "tsx", "src/cli.ts"];
    const proc = spawn(process.execPath, [...entry, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", DUET_PORT: "0", DUET_HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`duet ${args.join(" ")} did not exit:\n${stdout}\n${stderr}`));
    }, 60_000);
    // "close", not "exit": under load a process can exit before its output has been read.
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

type Key = keyof typeof OPTIONS;

// Secrets long enough for production (32 and 24 bytes at least).
const S1 = "a".repeat(32);
const S2 = "b".repeat(64);
const K1 = "c".repeat(24);
const K2 = "d".repeat(40);

/**
 * Two valid values per option (as they would be typed), and what each parses to. Typed by the
 * option names, so a new option in src/config.ts fails to compile here until it is covered.
 */
const SAMPLES: Record<Key, [string, unknown, string, unknown]> = {
  port: ["1234", 1234, "0", 0],
  host: ["127.0.0.1", "127.0.0.1", "::1", "::1"],
  dev: ["1", true, "false", false],
  store: ["sqlite:/tmp/a.db", "sqlite:/tmp/a.db", "redis://127.0.0.1:6379", "redis://127.0.0.1:6379"],
  workers: ["2", 2, "4", 4],
  jwtSecret: [S1, S1, S2, S2],
  jwtPublicKey: ["@/tmp/k1.pem", "@/tmp/k1.pem", "@/tmp/k2.pem", "@/tmp/k2.pem"],
  apiKey: [K1, K1, K2, K2],
  maxTextLength: ["100", 100, "200", 200],
  bodyLimit: ["2048", 2048, "4096", 4096],
  sendRate: ["5", 5, "6", 6],
  sendBurst: ["7", 7, "8", 8],
  editWindowS: ["0", 0, "60", 60],
  unsendWindowS: ["3600", 3600, "0", 0],
  messageTtlS: ["1", 1, "86400", 86400],
  expirySweepMs: ["50", 50, "60000", 60000],
  maxConnectionsPerUser: ["3", 3, "4", 4],
  maxConnections: ["500", 500, "600", 600],
  bufferLimit: ["100000", 100000, "200000", 200000],
  wsPingMs: ["1000", 1000, "2000", 2000],
  streamPingMs: ["3000", 3000, "4000", 4000],
  maxPollSeconds: ["10", 10, "20", 20],
  retentionEvents: ["100", 100, "200", 200],
  retentionDays: ["1", 1, "2", 2],
  sqliteSync: ["full", "full", "normal", "normal"],
  pairs: ["matched", "matched", "open", "open"],
  storeCheckMs: ["700", 700, "9000", 9000],
  banRefreshMs: ["500", 500, "3000", 3000],
  logLevel: ["debug", "debug", "silent", "silent"],
  webhookUrl: ["http://127.0.0.1:9/h", "http://127.0.0.1:9/h", "https://x.example/h", "https://x.example/h"],
  webhookSecret: [
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  ],
  webhookEvents: [
    "message.created",
    "message.created",
    "notification,user.erased",
    "notification,user.erased",
  ],
  webhookRetryS: ["1", 1, "600", 600],
  notifyDelayS: ["0", 0, "30", 30],
  notifyGroupS: ["1", 1, "120", 120],
  notifyPreview: ["off", "off", "on", "on"],
  vapidPublicKey: ["pk1", "pk1", "pk2", "pk2"],
  vapidPrivateKey: ["sk1", "sk1", "sk2", "sk2"],
  vapidSubject: [
    "mailto:a@example.com",
    "mailto:a@example.com",
    "https://example.com",
    "https://example.com",
  ],
  outboxConcurrency: ["1", 1, "64", 64],
  outboxLeaseMs: ["6000", 6000, "60000", 60000],
  screen: ["mask", "mask", "reject", "reject"],
  imageHosts: ["cdn.example.com", "cdn.example.com", "a.example,b.example", "a.example,b.example"],
  moderationUrl: [
    "http://127.0.0.1:9/hook",
    "http://127.0.0.1:9/hook",
    "https://mod.example/x",
    "https://mod.example/x",
  ],
  moderationTimeoutMs: ["200", 200, "3000", 3000],
  moderationFailure: ["closed", "closed", "open", "open"],
};

const entries = Object.entries(OPTIONS) as [Key, (typeof OPTIONS)[Key]][];
const flagArgs = (def: (typeof OPTIONS)[Key], raw: string): string[] => {
  if (def.kind !== "bool") return [`--${def.flag}`, raw];
  return raw === "1" || raw === "true" ? [`--${def.flag}`] : [];
};

describe("configuration (loadConfig)", () => {
  it("has the documented defaults with no flags and no environment", () => {
    const { config, help } = loadConfig([], {});
    assert.equal(help, false);
    for (const [key, def] of entries) assert.equal(config[key], def.default, key);
    assert.equal(config.port, 8080);
    assert.equal(config.store, "sqlite:./data/duet.db");
    assert.equal(config.dev, false);
  });

  it("reads every option from its environment variable and from its flag; the flag wins", () => {
    for (const [key, def] of entries) {
      const [raw1, value1, raw2, value2] = SAMPLES[key];
      assert.equal(loadConfig([], { [def.env]: raw1 }).config[key], value1, `${def.env}=${raw1}`);
      assert.equal(loadConfig([], { [def.env]: raw2 }).config[key], value2, `${def.env}=${raw2}`);
      if (def.kind !== "bool") {
        assert.equal(loadConfig(flagArgs(def, raw1), {}).config[key], value1, `--${def.flag} ${raw1}`);
        assert.equal(
          loadConfig(flagArgs(def, raw2), { [def.env]: raw1 }).config[key],
          value2,
          `--${def.flag} wins`,
        );
        assert.equal(loadConfig([`--${def.flag}=${raw2}`], {}).config[key], value2, `--${def.flag}=${raw2}`);
      }
    }
    // A boolean flag is set by its presence and beats a false environment value.
    assert.equal(loadConfig(["--dev"], { DUET_DEV: "0" }).config.dev, true);
    // An empty environment variable counts as unset.
    assert.equal(loadConfig([], { DUET_PORT: "" }).config.port, 8080);
  });

  it("accepts short secrets in dev mode, and secrets of exactly the minimum outside it", () => {
    const dev = loadConfig(["--dev"], { DUET_JWT_SECRET: "x", DUET_API_KEY: "y" }).config;
    assert.equal(dev.jwtSecret, "x");
    assert.equal(dev.apiKey, "y");
    const prod = loadConfig([], { DUET_JWT_SECRET: "s".repeat(32), DUET_API_KEY: "k".repeat(24) }).config;
    assert.equal(prod.jwtSecret?.length, 32);
    assert.equal(prod.apiKey?.length, 24);
    // Multi-byte characters count by their UTF-8 bytes: 16 × "é" is 32 bytes.
    assert.equal(loadConfig([], { DUET_JWT_SECRET: "é".repeat(16) }).config.jwtSecret, "é".repeat(16));
  });

  it("keeps dev mode's data in its own file unless --store is given", () => {
    assert.equal(loadConfig([], {}).config.store, "sqlite:./data/duet.db");
    assert.equal(loadConfig(["--dev"], {}).config.store, "sqlite:./data/duet-dev.db");
    assert.equal(loadConfig([], { DUET_DEV: "1" }).config.store, "sqlite:./data/duet-dev.db");
    assert.equal(loadConfig(["--dev", "--store", "sqlite:/tmp/x.db"], {}).config.store, "sqlite:/tmp/x.db");
    assert.equal(
      loadConfig(["--dev"], { DUET_STORE: "redis://127.0.0.1:1" }).config.store,
      "redis://127.0.0.1:1",
    );
  });

  it("refuses bad values with a ConfigError naming the option", () => {
    const bad: [string[], Record<string, string>, RegExp][] = [
      [["--port", "abc"], {}, /--port/],
      [["--port", "70000"], {}, /--port/],
      [["--port", "-1"], {}, /--port/],
      [["--port", "1.5"], {}, /--port/],
      [[], { DUET_PORT: "eighty" }, /DUET_PORT/],
      [["--workers", "0"], {}, /--workers/],
      [["--workers", "65"], {}, /--workers/],
      [["--send-rate", "0"], {}, /--send-rate/],
      [["--body-limit", "10"], {}, /--body-limit/],
      [["--max-text-length", "0"], {}, /--max-text-length/],
      [["--store", "mysql://x"], {}, /--store/],
      [["--sqlite-sync", "fast"], {}, /--sqlite-sync/],
      [["--log-level", "loud"], {}, /--log-level/],
      [[], { DUET_WEBHOOK_SECRET: "whsec_c2hvcnQ=" }, /24-64 bytes/],
      [[], { DUET_WEBHOOK_SECRET: "whsec_not base64!" }, /DUET_WEBHOOK_SECRET/],
      [[], { DUET_WEBHOOK_URL: "ftp://x" }, /DUET_WEBHOOK_URL/],
      [[], { DUET_WEBHOOK_EVENTS: "message.created,nope" }, /nope/],
      [[], { DUET_WEBHOOK_RETRY_S: "0" }, /DUET_WEBHOOK_RETRY_S/],
      [[], { DUET_NOTIFY_PREVIEW: "maybe" }, /DUET_NOTIFY_PREVIEW/],
      [[], { DUET_VAPID_SUBJECT: "bob" }, /DUET_VAPID_SUBJECT/],
      [["--ws-ping-ms", "1"], {}, /ping/],
      [[], { DUET_DEV: "maybe" }, /DUET_DEV/],
      [["--dev=maybe"], {}, /dev/],
      [["--bogus"], {}, /bogus/],
      [["--port"], {}, /port/],
      [["stray"], {}, /stray/],
      // Outside dev mode, guessable secrets are refused (counted in bytes, not characters).
      [[], { DUET_JWT_SECRET: "change-me" }, /DUET_JWT_SECRET.*9 bytes.*at least 32/],
      [["--jwt-secret", "a".repeat(31)], {}, /DUET_JWT_SECRET.*31 bytes/],
      [[], { DUET_JWT_SECRET: "é".repeat(15) }, /30 bytes/],
      [[], { DUET_JWT_SECRET: S1, DUET_API_KEY: "change-me-too" }, /DUET_API_KEY.*13 bytes.*at least 24/],
      [["--api-key", "k".repeat(23)], { DUET_JWT_SECRET: S1 }, /DUET_API_KEY.*23 bytes/],
      [["--screen", "loud"], {}, /--screen/],
      [["--image-hosts", "cdn.example.com,bad host"], {}, /--image-hosts/],
      [["--image-hosts", "https://cdn.example.com"], {}, /--image-hosts/],
      [["--moderation-url", "ftp://x"], {}, /--moderation-url/],
      [["--moderation-url", "not a url"], {}, /--moderation-url/],
      [["--moderation-failure", "maybe"], {}, /--moderation-failure/],
      [["--moderation-timeout-ms", "0"], {}, /--moderation-timeout-ms/],
    ];
    for (const [argv, env, message] of bad) {
      assert.throws(
        () => loadConfig(argv, env),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
        `${argv.join(" ")} ${JSON.stringify(env)}`,
      );
    }
  });
});

describe("the duet command", () => {
  it("--help lists every option with its flag and environment variable", async () => {
    const { code, stdout, stderr } = await runDuet(["--help"]);
    assert.equal(code, 0, stderr);
    for (const [, def] of entries) {
      const line = stdout.split("\n").find((l) => new RegExp(`^\\s*--${def.flag}(\\s|$)`).test(l));
      assert.ok(line, `--${def.flag} missing from --help`);
      assert.ok(line.includes(def.env), `${def.env} missing from the --${def.flag} line`);
      if (def.default !== undefined && def.default !== false) {
        assert.ok(line.includes(`default: ${def.default}`), `default of --${def.flag} missing`);
      }
    }
    assert.match(stdout, /--help/);
  });

  it("exits with code 2 and a one-line message on a bad value", async () => {
    // Every bad value is covered above through loadConfig; here, that the process reports them.
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--port", "abc"], {}, /--port/],
      [[], { DUET_DEV: "maybe" }, /DUET_DEV/],
      [["--log-level", "loud"], {}, /--log-level/],
      [[], { DUET_WEBHOOK_SECRET: "whsec_c2hvcnQ=" }, /24-64 bytes/],
      [[], { DUET_WEBHOOK_SECRET: "whsec_not base64!" }, /DUET_WEBHOOK_SECRET/],
      [[], { DUET_WEBHOOK_URL: "ftp://x" }, /DUET_WEBHOOK_URL/],
      [[], { DUET_WEBHOOK_EVENTS: "message.created,nope" }, /nope/],
      [[], { DUET_WEBHOOK_RETRY_S: "0" }, /DUET_WEBHOOK_RETRY_S/],
      [[], { DUET_NOTIFY_PREVIEW: "maybe" }, /DUET_NOTIFY_PREVIEW/],
      [[], { DUET_VAPID_SUBJECT: "bob" }, /DUET_VAPID_SUBJECT/],
      [
        [],
        { DUET_WEBHOOK_URL: "http://127.0.0.1:9/h", DUET_JWT_SECRET: "s".repeat(32) },
        /needs DUET_WEBHOOK_SECRET/,
      ],
      [
        [],
        { DUET_VAPID_SUBJECT: "mailto:a@example.com", DUET_JWT_SECRET: "s".repeat(32) },
        /DUET_VAPID_PUBLIC_KEY/,
      ],
      // No way to verify tokens is a configuration error too.
      [[], {}, /DUET_JWT_SECRET/],
      [[], { DUET_JWT_SECRET: "change-me" }, /DUET_JWT_SECRET.*at least 32.*openssl rand -hex 32/],
      [[], { DUET_JWT_SECRET: S1, DUET_API_KEY: "change-me-too" }, /DUET_API_KEY.*at least 24/],
    ];
    const results = await Promise.all(cases.map(([args, env]) => runDuet(args, env)));
    results.forEach(({ code, stdout, stderr }, i) => {
      const [args, env, message] = at(cases, i);
      const what = `${args.join(" ")} ${JSON.stringify(env)}`;
      assert.equal(code, 2, `${what}: ${stderr}`);
      assert.equal(stdout, "", what);
      const lines = stderr.split("\n").filter((l) => l !== "");
      assert.equal(lines.length, 1, `${what}: ${stderr}`);
      assert.match(at(lines, 0), /^duet: /, what);
      assert.match(at(lines, 0), message, what);
    });
  });

  it("in dev mode keeps its data in ./data/duet-dev.db, not the production file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "duet-dev-"));
    const entry =
      process.env.DUET_SPAWN_DIST === "1"
        ? [fileURLToPath(new URL("dist/cli.js", ROOT))]
        : ["--import", import.meta.resolve("tsx"), fileURLToPath(new URL("src/cli.ts", ROOT))];
    const proc = spawn(process.execPath, [...entry, "--dev", "--port", "0"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", DUET_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | string>((resolve) => {
      proc.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
    });
    const logs: string[] = [];
    proc.stderr.on("data", (d: Buffer) => logs.push(d.toString()));
    const url = await listeningUrl(proc, logs, exited);
    const res = await fetch(`${url}/v1/dev/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "alice" }),
    });
    assert.equal(res.status, 201);
    proc.kill("SIGTERM");
    assert.equal(await exited, 0, logs.join("\n"));
    assert.ok(existsSync(join(dir, "data", "duet-dev.db")), "no ./data/duet-dev.db");
    assert.ok(!existsSync(join(dir, "data", "duet.db")), "dev mode wrote the production file");
  });

  it("refuses --workers 2 on SQLite with a clear error", async () => {
    const { code, stderr } = await runDuet(["--workers", "2"], {
      DUET_STORE: tempDbUrl(),
      DUET_JWT_SECRET: S1,
    });
    assert.equal(code, 2);
    const lines = stderr.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, stderr);
    assert.match(at(lines, 0), /^duet: --workers needs a Redis store/);
  });

  it("takes options from the environment and from flags, the flag winning", async () => {
    // DUET_MAX_TEXT_LENGTH says 5 and --max-text-length says 8: 8 holds. DUET_BODY_LIMIT alone holds.
    const duet = await spawnDuet(
      { DUET_STORE: tempDbUrl(), DUET_MAX_TEXT_LENGTH: "5", DUET_BODY_LIMIT: "2048" },
      ["--max-text-length", "8"],
    );
    try {
      const token = await tokenFor("alice");
      const send = (body: unknown) => api(duet.url, token, "POST", "/v1/messages", body);
      assert.equal((await send({ to: "bob", text: "12345678" })).status, 201);
      assert.equal((await send({ to: "bob", text: "123456789" })).status, 400);
      const links = [
        { url: `https://x.example/${"a".repeat(1000)}` },
        { url: `https://x.example/${"b".repeat(1000)}` },
      ];
      assert.equal((await send({ to: "bob", text: "1", links })).status, 413);
    } finally {
      await duet.kill("SIGTERM");
    }
  });
});
