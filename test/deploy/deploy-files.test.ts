/**
 * The deployment files: Dockerfile, compose.yaml (+ deploy/nginx.conf) and deploy/duet.service.
 * Containers cannot run on these machines, so each file is checked by a well-kept parser or
 * validator (dockerfile-ast and dockerfile-utils' linter, the `yaml` package, systemd's own
 * `systemd-analyze verify`), and what can run outside a container runs: the image's entrypoint
 * and healthcheck commands against this checkout, and the compose file's nginx configuration in a
 * real nginx in front of two real duet processes on a real Redis.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DockerfileParser, type From } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { parseDocument } from "yaml";
import { type ChildDuet, listeningUrl, spawnDuet, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { openStream } from "../http/util.js";
import { launchNginx } from "../network/nginx-server.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const run = promisify(execFile);

/** A JSON-array (exec form) argument list, as Docker reads it. */
function execForm(text: string, what: string): string[] {
  const parsed: unknown = JSON.parse(text);
  assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === "string"), `${what} is not exec form`);
  return parsed as string[];
}

describe("Dockerfile", () => {
  const text = read("Dockerfile");
  const dockerfile = DockerfileParser.parse(text);
  const instructions = dockerfile.getInstructions();
  const froms = dockerfile.getFROMs();
  const finalStart = froms.at(-1)!.getRange().start.line;
  const final = instructions.filter((i) => i.getRange().start.line >= finalStart);
  const finalOf = (keyword: string) => final.filter((i) => i.getKeyword() === keyword);

  it("passes the dockerfile-utils linter", () => {
    assert.deepEqual(
      validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`),
      [],
    );
  });

  it("is multi-stage on the official node:20-slim, the runtime stage copying from the build stage", () => {
    assert.ok(froms.length >= 2, "one stage only");
    for (const from of froms) assert.equal(`${from.getImageName()}:${from.getImageTag()}`, "node:20-slim");
    const stages = new Set(froms.map((f: From) => f.getBuildStage()).filter((s) => s !== null));
    const copiesFrom = dockerfile
      .getCOPYs()
      .filter((c) => c.getRange().start.line >= finalStart)
      .flatMap((c) => c.getFromFlag()?.getValue() ?? []);
    assert.ok(copiesFrom.length > 0, "the runtime stage copies nothing from the build");
    for (const stage of copiesFrom) assert.ok(stages.has(stage), `COPY --from=${stage}: no such stage`);
    // No build tools or sources in the runtime stage: it copies built files only.
    assert.equal(
      finalOf("RUN").filter((r) => /npm (ci|install)/.test(r.getArgumentsContent() ?? "")).length,
      0,
    );
  });

  it("copies only paths that exist in the repository", () => {
    for (const copy of dockerfile.getCOPYs()) {
      if (copy.getFromFlag() !== null) continue;
      const args = copy.getArguments().map((a) => a.getValue());
      for (const source of args.slice(0, -1))
        assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: missing`);
    }
  });

  it("runs as a non-root user, keeps its data in a volume, checks /readyz, and gives SIGTERM to node", () => {
    const user = finalOf("USER").at(-1)?.getArgumentsContent();
    assert.ok(user && user !== "root" && user !== "0", `USER ${user}`);
    const volume = finalOf("VOLUME")
      .map((v) => v.getArgumentsContent() ?? "")
      .join(" ");
    assert.match(volume, /"\/data"|\/data/);
    const env = finalOf("ENV")
      .map((e) => e.getArgumentsContent() ?? "")
      .join(" ");
    assert.match(env, /DUET_STORE=sqlite:\/data\//, "the SQLite file is not in the volume");
    const healthcheck = finalOf("HEALTHCHECK");
    assert.equal(healthcheck.length, 1);
    assert.match(at(healthcheck, 0).getArgumentsContent() ?? "", /\/readyz/);
    // Exec form: node is PID 1 and receives SIGTERM; a shell form would put sh in between.
    const entry = finalOf("ENTRYPOINT").at(-1);
    assert.ok(entry, "no ENTRYPOINT");
    assert.deepEqual(execForm(entry.getArgumentsContent() ?? "", "ENTRYPOINT"), ["node", "bin/duet.js"]);
    assert.equal(finalOf("CMD").length, 0, "a CMD would add arguments to duet");
  });

  it("its entrypoint and healthcheck work: ready answers 0, SIGTERM stops duet cleanly", async () => {
    // Run as the image would from /app (here: this checkout's built bin/ and dist/).
    const healthArgs = execForm(
      at(
        /CMD\s+(\[.*\])\s*$/s.exec(at(finalOf("HEALTHCHECK"), 0).getArgumentsContent() ?? "") ?? [],
        1,
      ).replace(/\\\n/g, ""),
      "HEALTHCHECK CMD",
    );
    const entry = execForm(finalOf("ENTRYPOINT").at(-1)!.getArgumentsContent() ?? "", "ENTRYPOINT");
    const data = mkdtempSync(join(tmpdir(), "duet-image-data-"));
    const env = {
      PATH: process.env.PATH ?? "",
      NODE_ENV: "production",
      DUET_HOST: "127.0.0.1",
      DUET_PORT: "0",
      DUET_STORE: `sqlite:${data}/duet.db`,
      DUET_JWT_SECRET: "x".repeat(32),
    };
    const program = at(entry, 0);
    const proc = spawn(program === "node" ? process.execPath : program, entry.slice(1), {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const logs: string[] = [];
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    proc.stderr.on("data", (d: Buffer) => logs.push(d.toString()));
    const url = await listeningUrl(proc, logs, exited);
    const health = (port: string) =>
      run(at(healthArgs, 0) === "node" ? process.execPath : at(healthArgs, 0), healthArgs.slice(1), {
        env: { ...env, DUET_PORT: port },
      }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );
    assert.equal(await health(new URL(url).port), 0, "healthy while the store answers");
    proc.kill("SIGTERM");
    assert.equal(await exited, 0, logs.join(""));
    assert.ok(
      logs.some((l) => l.includes('"msg":"stopped"')),
      "no clean stop in the log",
    );
    assert.equal(await health(new URL(url).port), 1, "unhealthy once nothing answers");
    assert.ok(existsSync(join(data, "duet.db")), "no database in the data directory");
  });
});

interface Service {
  image?: string;
  build?: string;
  init?: boolean;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, unknown> | string[];
}

describe("compose.yaml", () => {
  const doc = parseDocument(read("compose.yaml"));
  const compose = doc.toJS({ maxAliasCount: 10 }) as { services: Record<string, Service>; version?: string };
  const services = compose.services;
  const duets = Object.entries(services).filter(([, s]) => s.build === "." || s.image?.startsWith("duet"));

  it("parses, and runs redis-server, two duet processes on it and nginx", () => {
    assert.deepEqual(doc.errors, []);
    assert.deepEqual(doc.warnings, []);
    assert.equal(compose.version, undefined, "`version` is obsolete in the Compose specification");
    assert.match(services.redis?.image ?? "", /^redis:(7|8)/, "Redis 7 or later (sharded pub/sub)");
    assert.equal(duets.length, 2);
    for (const [name, duet] of duets) {
      assert.equal(duet.build, ".", `${name} is not built from the Dockerfile`);
      assert.equal(duet.init, true, `${name}: init reaps and forwards signals`);
      assert.equal(duet.environment?.DUET_STORE, "redis://redis:6379");
      // Secrets come from the operator's environment; compose refuses to start without them.
      assert.match(duet.environment?.DUET_JWT_SECRET ?? "", /^\$\{DUET_JWT_SECRET:\?.+\}$/);
      assert.match(duet.environment?.DUET_API_KEY ?? "", /^\$\{DUET_API_KEY:\?.+\}$/);
    }
    assert.match(services.nginx?.image ?? "", /^nginx:/);
    for (const volume of services.nginx?.volumes ?? []) {
      const host = at(volume.split(":"), 0);
      if (host.startsWith(".")) assert.ok(existsSync(join(ROOT, host)), `${host} is missing`);
    }
  });

  describe("its nginx configuration, in a real nginx before two duet processes on Redis", () => {
    const duetProcs: ChildDuet[] = [];
    let stopNginx: (() => Promise<void>) | undefined;
    after(async () => {
      await stopNginx?.();
      await Promise.all(duetProcs.map((d) => d.kill("SIGTERM")));
      await stopAllRedis();
    });

    it("carries requests and streams to both processes, and a message across them", async () => {
      const nginxVolumes = services.nginx?.volumes ?? [];
      const mount = (target: string) => {
        const volume = nginxVolumes.find((v) => v.split(":")[1] === target);
        assert.ok(volume, `nginx does not mount ${target}`);
        return join(ROOT, at(volume.split(":"), 0));
      };
      const confFile = mount("/etc/nginx/conf.d/default.conf");
      const snippets = mount("/etc/nginx/duet");
      const redis = await startRedis();
      for (let i = 0; i < 2; i++) duetProcs.push(await spawnDuet({ DUET_STORE: redis.url }));
      const ports = duetProcs.map((d) => new URL(d.url).port);
      const names = duets.map(([name]) => name);
      // The file as compose mounts it; only the container addresses become this machine's.
      let conf = readFileSync(confFile, "utf8").replaceAll("/etc/nginx/duet/", `${snippets}/`);
      names.forEach((name, i) => {
        conf = conf.replaceAll(`server ${name}:8080;`, `server 127.0.0.1:${ports[i]};`);
      });
      assert.equal((conf.match(/server 127\.0\.0\.1:\d+;/g) ?? []).length, 2, "upstreams not found");
      const nginx = await launchNginx((port) => conf.replace(/listen 80;/, `listen 127.0.0.1:${port};`));
      stopNginx = nginx.stop;

      const alice = await tokenFor("compose-alice");
      const bob = await tokenFor("compose-bob");
      // Four streams through nginx: round robin puts streams on both processes.
      const streams = await Promise.all([0, 1, 2, 3].map(() => openStream(nginx.url, alice)));
      for (const s of streams) await s.next((e) => e.type === "hello");
      for (const duet of duetProcs) {
        const metrics = await (await fetch(`${duet.url}/metrics`)).text();
        const open = Number(/^duet_connections\{transport="stream"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
        assert.ok(open >= 1, `a process got no stream:\n${metrics.slice(0, 300)}`);
      }
      // A message sent through nginx reaches alice on every stream, whichever process holds it.
      const res = await fetch(`${nginx.url}/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${bob}`, "content-type": "application/json" },
        body: JSON.stringify({ to: "compose-alice", text: "through nginx" }),
      });
      assert.equal(res.status, 201, await res.text());
      for (const s of streams) {
        const event = await s.next((e) => e.type === "message");
        assert.equal((event.message as { text: string }).text, "through nginx");
        s.close();
      }
      assert.equal((await fetch(`${nginx.url}/readyz`)).status, 200);
      assert.doesNotMatch(nginx.errorLog(), /\[(emerg|alert|crit|error)\]/);
    });
  });
});

describe("deploy/duet.service", () => {
  const unit = read("deploy/duet.service");
  /** [Section] key=value lines, as systemd reads them (repeated keys kept in order). */
  const sections = new Map<string, [string, string][]>();
  let current = "";
  for (const line of unit.split("\n")) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      current = at(header, 1);
      sections.set(current, []);
    } else if (/^\w+=/.test(line)) {
      const at = line.indexOf("=");
      sections.get(current)?.push([line.slice(0, at), line.slice(at + 1)]);
    }
  }
  const service = (key: string) =>
    (sections.get("Service") ?? []).filter(([k]) => k === key).map(([, v]) => v);

  it("passes systemd-analyze verify without a warning", async () => {
    const { stdout, stderr } = await run("systemd-analyze", ["verify", join(ROOT, "deploy/duet.service")]);
    assert.equal(`${stdout}${stderr}`, "");
  });

  it("runs the installed duet command unprivileged, with its secrets from a file and its data kept", () => {
    assert.deepEqual([...sections.keys()], ["Unit", "Service", "Install"]);
    const [exec] = service("ExecStart");
    const pkg = JSON.parse(read("package.json")) as { name: string; bin: { duet: string } };
    assert.match(exec ?? "", /^\/\S+\/node \/\S+$/);
    assert.ok(
      exec?.endsWith(`/node_modules/${pkg.name}/${pkg.bin.duet}`),
      `${exec}: not the installed duet command`,
    );
    assert.deepEqual(service("DynamicUser"), ["yes"]);
    assert.deepEqual(service("StateDirectory"), ["duet"]);
    assert.ok(service("Environment").includes("DUET_STORE=sqlite:/var/lib/duet/duet.db"));
    assert.equal(service("EnvironmentFile").length, 1);
    assert.deepEqual(service("KillSignal"), ["SIGTERM"]);
    assert.deepEqual(service("Restart"), ["on-failure"]);
  });
});
