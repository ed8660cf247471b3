/**
 * A real nginx (Debian's package; scripts/ensure-nginx.mjs installs it) for tests: one process
 * (`master_process off`, `daemon off`) run as the current user, with its config, pid file, error
 * log and temp paths in a temp dir, on a free loopback port, in front of one duet. Its server block
 * includes docs/nginx/*.conf as they are, so the documented snippet is what the tests run.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, sleep } from "../helpers/kit.js";

export const NGINX_BIN = "/usr/sbin/nginx";
export const SNIPPET_DIR = fileURLToPath(new URL("../../docs/nginx/", import.meta.url));

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const proc of live) proc.kill("SIGKILL");
});

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

export interface Nginx {
  url: string;
  port: number;
  dir: string;
  /** Extra server blocks' ports, in the order given. */
  extraPorts: number[];
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Starts nginx proxying to duet on `upstreamPort`. `extraServers` are more server blocks, each a
 * function of its own free port (for control experiments next to the documented setup).
 */
export async function startNginx(
  upstreamPort: number,
  extraServers: ((port: number) => string)[] = [],
): Promise<Nginx> {
  const extraPorts: number[] = [];
  for (const _ of extraServers) extraPorts.push(await freePort());
  const nginx = await launchNginx(
    (port) => `
    # nginx's own defaults, spelled out: the documented snippet must work with them.
    proxy_buffering on;
    proxy_read_timeout 60s;

    upstream duet { server 127.0.0.1:${upstreamPort}; keepalive 32; }
    include ${SNIPPET_DIR}duet-http.conf;

    server {
        listen 127.0.0.1:${port};
        include ${SNIPPET_DIR}duet-location.conf;
    }
${extraServers.map((server, i) => server(extraPorts[i]!)).join("\n")}
`,
  );
  return { ...nginx, extraPorts };
}

/**
 * Starts nginx with `http(port)` as the body of its http { } block (temp paths, pid and logs are
 * set around it); it must listen on 127.0.0.1:`port`. Resolves once that port accepts.
 */
export async function launchNginx(http: (port: number) => string): Promise<Omit<Nginx, "extraPorts">> {
  if (!existsSync(NGINX_BIN)) throw new Error(`${NGINX_BIN} is missing: run node scripts/ensure-nginx.mjs`);
  const dir = mkdtempSync(join(tmpdir(), "duet-nginx-"));
  const port = await freePort();
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${http(port)}
}
`;
  const confPath = join(dir, "nginx.conf");
  writeFileSync(confPath, conf);
  const proc = spawn(NGINX_BIN, ["-p", dir, "-c", confPath, "-e", join(dir, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  live.add(proc);
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()));
  void exited.then(() => live.delete(proc));
  const errorLog = () => {
    const path = join(dir, "error.log");
    return `${stderr}${existsSync(path) ? readFileSync(path, "utf8") : ""}`;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`nginx exited before listening:\n${errorLog()}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`nginx did not listen on ${port}:\n${errorLog()}`);
    }
    await sleep(50);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    errorLog,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
