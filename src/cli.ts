import cluster from "node:cluster";
import { ConfigError, checkServerConfig, helpText, loadConfig } from "./config.js";

/** `duet [options]`: one process, or `--workers N` processes sharing one port (Redis stores). */
async function main(): Promise<void> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(process.argv.slice(2), process.env);
    if (!loaded.help) checkServerConfig(loaded.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`duet: ${err.message} (duet --help lists the options)\n`);
      process.exit(2);
    }
    throw err;
  }
  const { config, help } = loaded;
  if (help) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  if (!config.dev && config.jwtSecret === undefined && config.jwtPublicKey === undefined) {
    process.stderr.write("duet: set DUET_JWT_SECRET or DUET_JWT_PUBLIC_KEY, or run with --dev\n");
    process.exit(2);
  }
  // The server is loaded only now: --help and configuration errors answer without it.
  const [{ createLogger }, { startServer }, { isSharedStore }] = await Promise.all([
    import("./log.js"),
    import("./server.js"),
    import("./stores/open-store.js"),
  ]);
  const log = createLogger(config.logLevel);
  if (config.workers > 1 && !isSharedStore(config.store)) {
    process.stderr.write(
      "duet: --workers needs a Redis store (DUET_STORE=redis://...); SQLite is one process.\n",
    );
    process.exit(2);
  }
  if (config.workers > 1 && cluster.isPrimary) {
    let stopping = false;
    for (let i = 0; i < config.workers; i++) cluster.fork();
    cluster.on("exit", (worker, code, signal) => {
      log.warn({ msg: "worker exited", worker: worker.id, code, signal });
      // A crashed worker is replaced; its clients reconnect and resume from their cursors.
      if (!stopping) setTimeout(() => stopping || cluster.fork(), 1000);
    });
    const stop = () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    return;
  }
  const server = await startServer(config, log);
  log.info({ msg: "listening", url: server.url, store: server.chat.store.name });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ msg: "shutting down", signal });
    server.close().then(
      () => {
        log.info({ msg: "stopped" });
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ msg: "shutdown failed", err });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  // A store error's detail ("Cannot reach Redis: connect ECONNREFUSED …") is what an operator needs here.
  const { detail, message } = err as { detail?: string; message?: string };
  process.stderr.write(`duet: ${detail ?? message ?? String(err)}\n`);
  process.exit(1);
});
