import { parseArgs } from "node:util";

type Kind = "string" | "int" | "bool";

interface OptionDef {
  flag: string;
  env: string;
  kind: Kind;
  default: string | number | boolean | undefined;
  help: string;
}

/** Every option duet reads: one table for defaults, environment, flags and `--help`. */
export const OPTIONS = {
  port: { flag: "port", env: "DUET_PORT", kind: "int", default: 8080, help: "TCP port; 0 picks a free one" },
  host: {
    flag: "host",
    env: "DUET_HOST",
    kind: "string",
    default: undefined,
    help: "address to listen on (default 0.0.0.0; 127.0.0.1 in dev mode)",
  },
  dev: {
    flag: "dev",
    env: "DUET_DEV",
    kind: "bool",
    default: false,
    help: "dev mode: random JWT secret, POST /v1/dev/token, demo at /",
  },
  store: {
    flag: "store",
    env: "DUET_STORE",
    kind: "string",
    default: "sqlite:./data/duet.db",
    help: "sqlite:<path> | redis://host:port | redis-cluster://h1:p,h2:p (dev mode: sqlite:./data/duet-dev.db)",
  },
  workers: {
    flag: "workers",
    env: "DUET_WORKERS",
    kind: "int",
    default: 1,
    help: "processes sharing the port (needs a Redis store)",
  },
  jwtSecret: {
    flag: "jwt-secret",
    env: "DUET_JWT_SECRET",
    kind: "string",
    default: undefined,
    help: "HS256 secret shared with the app backend, at least 32 bytes (openssl rand -hex 32)",
  },
  jwtPublicKey: {
    flag: "jwt-public-key",
    env: "DUET_JWT_PUBLIC_KEY",
    kind: "string",
    default: undefined,
    help: "PEM (SPKI) public key for RS256/ES256 tokens, or @path to a file",
  },
  apiKey: {
    flag: "api-key",
    env: "DUET_API_KEY",
    kind: "string",
    default: undefined,
    help: "bearer key of the server API (/v1/admin/*), at least 24 bytes; unset disables it",
  },
  maxTextLength: {
    flag: "max-text-length",
    env: "DUET_MAX_TEXT_LENGTH",
    kind: "int",
    default: 4000,
    help: "longest message text, in characters",
  },
  bodyLimit: {
    flag: "body-limit",
    env: "DUET_BODY_LIMIT",
    kind: "int",
    default: 65536,
    help: "largest HTTP body and WebSocket frame, in bytes",
  },
  sendRate: {
    flag: "send-rate",
    env: "DUET_SEND_RATE",
    kind: "int",
    default: 20,
    help: "messages per second a user may send (sustained)",
  },
  sendBurst: {
    flag: "send-burst",
    env: "DUET_SEND_BURST",
    kind: "int",
    default: 40,
    help: "messages a user may send in a burst",
  },
  editWindowS: {
    flag: "edit-window-s",
    env: "DUET_EDIT_WINDOW_S",
    kind: "int",
    default: 900,
    help: "seconds after sending a message may be edited; 0 turns editing off",
  },
  unsendWindowS: {
    flag: "unsend-window-s",
    env: "DUET_UNSEND_WINDOW_S",
    kind: "int",
    default: 0,
    help: "seconds after sending a message may be unsent; 0: any time",
  },
  messageTtlS: {
    flag: "message-ttl-s",
    env: "DUET_MESSAGE_TTL_S",
    kind: "int",
    default: 0,
    help: "SPEC 15: seconds messages live in conversations with no ttl of their own (any value >= 1); 0: forever",
  },
  expirySweepMs: {
    flag: "expiry-sweep-ms",
    env: "DUET_EXPIRY_SWEEP_MS",
    kind: "int",
    default: 10000,
    help: "how often expired messages are erased (ms, 50-60000); they are hidden from the moment they expire",
  },
  maxConnectionsPerUser: {
    flag: "max-connections-per-user",
    env: "DUET_MAX_CONNECTIONS_PER_USER",
    kind: "int",
    default: 10,
    help: "open connections per user; the oldest is closed past it",
  },
  maxConnections: {
    flag: "max-connections",
    env: "DUET_MAX_CONNECTIONS",
    kind: "int",
    default: 100000,
    help: "open connections per process; more are refused with 503 and Retry-After",
  },
  bufferLimit: {
    flag: "buffer-limit",
    env: "DUET_BUFFER_LIMIT",
    kind: "int",
    default: 1048576,
    help: "bytes queued to one connection before it is closed as too slow",
  },
  wsPingMs: {
    flag: "ws-ping-ms",
    env: "DUET_WS_PING_MS",
    kind: "int",
    default: 25000,
    help: "WebSocket ping interval; a peer that misses one is dropped",
  },
  streamPingMs: {
    flag: "stream-ping-ms",
    env: "DUET_STREAM_PING_MS",
    kind: "int",
    default: 15000,
    help: "SSE comment / NDJSON ping interval",
  },
  maxPollSeconds: {
    flag: "max-poll-seconds",
    env: "DUET_MAX_POLL_SECONDS",
    kind: "int",
    // Under the 60 s read timeout that proxies default to (nginx's proxy_read_timeout).
    default: 50,
    help: "cap on a long-poll's timeout, in seconds (keep it under your proxy's read timeout)",
  },
  retentionEvents: {
    flag: "retention-events",
    env: "DUET_RETENTION_EVENTS",
    kind: "int",
    default: 10000,
    help: "events kept per user for resume",
  },
  retentionDays: {
    flag: "retention-days",
    env: "DUET_RETENTION_DAYS",
    kind: "int",
    default: 30,
    help: "days events are kept for resume",
  },
  sqliteSync: {
    flag: "sqlite-sync",
    env: "DUET_SQLITE_SYNC",
    kind: "string",
    default: "normal",
    help: "normal (survives a process crash) | full (also an OS crash)",
  },
  pairs: {
    flag: "pairs",
    env: "DUET_PAIRS",
    kind: "string",
    default: "open",
    help: "open (anyone may message anyone) | matched (only pairs the server API matched)",
  },
  screen: {
    flag: "screen",
    env: "DUET_SCREEN",
    kind: "string",
    default: "off",
    help: "contact-info screen of user messages: off | flag | mask | reject (a pair may override it)",
  },
  imageHosts: {
    flag: "image-hosts",
    env: "DUET_IMAGE_HOSTS",
    kind: "string",
    default: undefined,
    help: "comma-separated hosts image and link URLs must point to (unset: any host)",
  },
  moderationUrl: {
    flag: "moderation-url",
    env: "DUET_MODERATION_URL",
    kind: "string",
    default: undefined,
    help: "moderation hook: every send and edit is POSTed here, signed, before it is stored",
  },
  moderationTimeoutMs: {
    flag: "moderation-timeout-ms",
    env: "DUET_MODERATION_TIMEOUT_MS",
    kind: "int",
    default: 1500,
    help: "how long a send waits for the moderation hook",
  },
  moderationFailure: {
    flag: "moderation-failure",
    env: "DUET_MODERATION_FAILURE",
    kind: "string",
    default: "open",
    help: "when the hook fails: open (store and flag) | closed (503 moderation_unavailable)",
  },
  // ---- SPEC section 14: webhooks, notifications, Web Push (src/core/outbox/) ----
  webhookUrl: {
    flag: "webhook-url",
    env: "DUET_WEBHOOK_URL",
    kind: "string",
    default: undefined,
    help: "where webhooks are POSTed (http/https); unset: no webhooks",
  },
  webhookSecret: {
    flag: "webhook-secret",
    env: "DUET_WEBHOOK_SECRET",
    kind: "string",
    default: undefined,
    help: "Standard Webhooks signing secret, whsec_<base64 of 24-64 bytes> (required with a URL)",
  },
  webhookEvents: {
    flag: "webhook-events",
    env: "DUET_WEBHOOK_EVENTS",
    kind: "string",
    default: undefined,
    help: "comma-separated webhook types to send (default: all)",
  },
  webhookRetryS: {
    flag: "webhook-retry-s",
    env: "DUET_WEBHOOK_RETRY_S",
    kind: "int",
    default: 86400,
    help: "seconds a webhook is retried before it moves to the failed list",
  },
  notifyDelayS: {
    flag: "notify-delay-s",
    env: "DUET_NOTIFY_DELAY_S",
    kind: "int",
    default: 10,
    help: "seconds a message to an offline user waits before it becomes a notification",
  },
  notifyGroupS: {
    flag: "notify-group-s",
    env: "DUET_NOTIFY_GROUP_S",
    kind: "int",
    default: 60,
    help: "messages from one peer within this many seconds make one notification",
  },
  notifyPreview: {
    flag: "notify-preview",
    env: "DUET_NOTIFY_PREVIEW",
    kind: "string",
    default: "on",
    help: "on | off: whether notifications carry the beginning of the text",
  },
  vapidPublicKey: {
    flag: "vapid-public-key",
    env: "DUET_VAPID_PUBLIC_KEY",
    kind: "string",
    default: undefined,
    help: "Web Push VAPID public key (base64url); with the private key and subject enables Web Push",
  },
  vapidPrivateKey: {
    flag: "vapid-private-key",
    env: "DUET_VAPID_PRIVATE_KEY",
    kind: "string",
    default: undefined,
    help: "Web Push VAPID private key (base64url)",
  },
  vapidSubject: {
    flag: "vapid-subject",
    env: "DUET_VAPID_SUBJECT",
    kind: "string",
    default: undefined,
    help: "Web Push VAPID subject (mailto: or https: URL)",
  },
  outboxConcurrency: {
    flag: "outbox-concurrency",
    env: "DUET_OUTBOX_CONCURRENCY",
    kind: "int",
    default: 32,
    help: "webhook/push deliveries in flight per process",
  },
  outboxLeaseMs: {
    flag: "outbox-lease-ms",
    env: "DUET_OUTBOX_LEASE_MS",
    kind: "int",
    default: 30000,
    help: "how long a process holds an outbox entry it is delivering before another may take it",
  },
  storeCheckMs: {
    flag: "store-check-ms",
    env: "DUET_STORE_CHECK_MS",
    kind: "int",
    default: 5000,
    help: "how often each process pings the store to notice an outage, and its end, when no request does",
  },
  banRefreshMs: {
    flag: "ban-refresh-ms",
    env: "DUET_BAN_REFRESH_MS",
    kind: "int",
    default: 2000,
    help: "how often each process re-reads the bans (a ban made on another process refuses new requests here within this)",
  },
  logLevel: {
    flag: "log-level",
    env: "DUET_LOG_LEVEL",
    kind: "string",
    default: "info",
    help: "fatal | error | warn | info | debug | silent",
  },
} as const satisfies Record<string, OptionDef>;

type Options = typeof OPTIONS;
type ValueOf<K extends Kind> = K extends "int" ? number : K extends "bool" ? boolean : string;

export type Config = {
  -readonly [K in keyof Options]: Options[K]["default"] extends undefined
    ? ValueOf<Options[K]["kind"]> | undefined
    : ValueOf<Options[K]["kind"]>;
};

export class ConfigError extends Error {}

function parseValue(def: OptionDef, raw: string | boolean, source: string): string | number | boolean {
  if (def.kind === "bool") {
    if (typeof raw === "boolean") return raw;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off|)$/i.test(raw)) return false;
    throw new ConfigError(`${source}: expected a boolean, got "${raw}"`);
  }
  if (typeof raw !== "string") throw new ConfigError(`${source}: needs a value`);
  if (def.kind === "int") {
    if (!/^\d+$/.test(raw)) throw new ConfigError(`${source}: expected a non-negative integer, got "${raw}"`);
    return Number(raw);
  }
  return raw;
}

/** Reads defaults, then the environment, then flags (flags win). Throws ConfigError on bad input. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): { config: Config; help: boolean } {
  const defs = OPTIONS as Record<string, OptionDef>;
  const parseOptions: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const def of Object.values(defs))
    parseOptions[def.flag] = { type: def.kind === "bool" ? "boolean" : "string" };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: parseOptions, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const [key, def] of Object.entries(defs)) {
    let value = def.default;
    const fromEnv = env[def.env];
    if (fromEnv !== undefined && fromEnv !== "") value = parseValue(def, fromEnv, def.env);
    const fromFlag = values[def.flag];
    if (fromFlag !== undefined) value = parseValue(def, fromFlag, `--${def.flag}`);
    out[key] = value;
  }
  // Dev mode keeps its own file, so `npm start` and a production run in the same folder never
  // share chats (dev tokens are minted for anyone who asks).
  const storeGiven = values[OPTIONS.store.flag] !== undefined || (env[OPTIONS.store.env] ?? "") !== "";
  if (out.dev === true && !storeGiven) out.store = DEV_STORE;
  const config = out as Config;
  validate(config);
  return { config, help: values.help === true };
}

/** Where dev mode keeps its data unless --store says otherwise. */
export const DEV_STORE = "sqlite:./data/duet-dev.db";

/**
 * Shortest secrets accepted outside dev mode, in bytes: an HS256 key shorter than its 32-byte
 * hash can be brute-forced from one captured token; the API key mints tokens for anyone.
 */
export const MIN_JWT_SECRET_BYTES = 32;
export const MIN_API_KEY_BYTES = 24;

/** The longest server-wide message ttl: ten years, in seconds (ms past it leave safe integers far behind). */
const MAX_MESSAGE_TTL_S = 10 * 366 * 86_400;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

function validate(config: Config): void {
  if (config.port > 65535) throw new ConfigError("--port must be 0-65535");
  if (config.workers < 1 || config.workers > 64) throw new ConfigError("--workers must be 1-64");
  if (config.maxTextLength < 1) throw new ConfigError("--max-text-length must be at least 1");
  if (config.bodyLimit < 1024) throw new ConfigError("--body-limit must be at least 1024");
  if (config.sendRate < 1 || config.sendBurst < 1)
    throw new ConfigError("--send-rate and --send-burst must be at least 1");
  if (config.bufferLimit < 65536) throw new ConfigError("--buffer-limit must be at least 65536 (64 KiB)");
  if (config.maxConnectionsPerUser < 1)
    throw new ConfigError("--max-connections-per-user must be at least 1");
  if (config.wsPingMs < 10 || config.streamPingMs < 10)
    throw new ConfigError("ping intervals must be at least 10 ms");
  if (config.retentionEvents < 1 || config.retentionDays < 1)
    throw new ConfigError("retention must be at least 1");
  if (config.messageTtlS < 0 || config.messageTtlS > MAX_MESSAGE_TTL_S)
    throw new ConfigError(`--message-ttl-s must be 0 (off) or 1-${MAX_MESSAGE_TTL_S}`);
  if (config.expirySweepMs < 50 || config.expirySweepMs > 60_000)
    throw new ConfigError("--expiry-sweep-ms must be 50-60000");
  if (config.sqliteSync !== "normal" && config.sqliteSync !== "full")
    throw new ConfigError("--sqlite-sync must be normal or full");
  if (config.storeCheckMs < 100) throw new ConfigError("--store-check-ms must be at least 100");
  if (config.banRefreshMs < 100) throw new ConfigError("--ban-refresh-ms must be at least 100");
  if (config.pairs !== "open" && config.pairs !== "matched")
    throw new ConfigError("--pairs must be open or matched");
  validateSafety(config);
  if (!LOG_LEVELS.includes(config.logLevel))
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
  if (!config.dev) checkSecrets(config);
  validateOffline(config);
  if (!/^(sqlite:|redis:\/\/|rediss:\/\/|redis-cluster:\/\/)/.test(config.store)) {
    throw new ConfigError("--store must start with sqlite:, redis:// or redis-cluster://");
  }
}

/** Outside dev mode, a guessable secret is refused before anything starts. */
function checkSecrets(config: Config): void {
  const short = (value: string | undefined, min: number) =>
    value !== undefined && Buffer.byteLength(value, "utf8") < min;
  if (short(config.jwtSecret, MIN_JWT_SECRET_BYTES)) {
    throw new ConfigError(
      `DUET_JWT_SECRET (--jwt-secret) is ${Buffer.byteLength(config.jwtSecret ?? "")} bytes; use at least ${MIN_JWT_SECRET_BYTES} (openssl rand -hex 32), or run with --dev`,
    );
  }
  if (short(config.apiKey, MIN_API_KEY_BYTES)) {
    throw new ConfigError(
      `DUET_API_KEY (--api-key) is ${Buffer.byteLength(config.apiKey ?? "")} bytes; use at least ${MIN_API_KEY_BYTES} (openssl rand -hex 32), or run with --dev`,
    );
  }
}

/** The webhook types of SPEC section 14. */
export const WEBHOOK_TYPES = [
  "message.created",
  "message.updated",
  "message.deleted",
  "pair.unmatched",
  "report.created",
  "message.flagged",
  "notification",
  "user.erased",
] as const;

/** Decodes a Standard Webhooks secret (`whsec_<base64>`), or throws ConfigError saying what is wrong. */
export function webhookSecretBytes(secret: string): Buffer {
  const body = secret.startsWith("whsec_") ? secret.slice(6) : null;
  if (body === null || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0)
    throw new ConfigError(
      "DUET_WEBHOOK_SECRET must look like whsec_<base64>, e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    );
  const bytes = Buffer.from(body, "base64");
  if (bytes.length < 24 || bytes.length > 64)
    throw new ConfigError(`DUET_WEBHOOK_SECRET must decode to 24-64 bytes (it decodes to ${bytes.length})`);
  return bytes;
}

function validateOffline(config: Config): void {
  if (config.webhookUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(config.webhookUrl);
    } catch {
      throw new ConfigError("DUET_WEBHOOK_URL must be an http or https URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new ConfigError("DUET_WEBHOOK_URL must be an http or https URL");
  }
  if (config.webhookSecret !== undefined) webhookSecretBytes(config.webhookSecret);
  if (config.webhookEvents !== undefined) {
    for (const type of config.webhookEvents.split(",").map((t) => t.trim())) {
      if (!(WEBHOOK_TYPES as readonly string[]).includes(type))
        throw new ConfigError(
          `DUET_WEBHOOK_EVENTS: unknown type "${type}" (known: ${WEBHOOK_TYPES.join(", ")})`,
        );
    }
  }
  if (config.webhookRetryS < 1) throw new ConfigError("DUET_WEBHOOK_RETRY_S must be at least 1");
  if (config.notifyGroupS < 1) throw new ConfigError("DUET_NOTIFY_GROUP_S must be at least 1");
  if (config.notifyPreview !== "on" && config.notifyPreview !== "off")
    throw new ConfigError("DUET_NOTIFY_PREVIEW must be on or off");
  if (config.vapidSubject !== undefined && !/^(mailto:|https:\/\/)/.test(config.vapidSubject))
    throw new ConfigError("DUET_VAPID_SUBJECT must be a mailto: or https: URL");
  if (config.outboxConcurrency < 1) throw new ConfigError("--outbox-concurrency must be at least 1");
  if (config.outboxLeaseMs < 6000)
    throw new ConfigError("--outbox-lease-ms must be at least 6000 (longer than an attempt's 5 s)");
}

/**
 * Checks between options, made when a server starts (loadConfig checks each option alone): a
 * webhook URL needs its secret, Web Push needs its three keys.
 */
export function checkServerConfig(config: Config): void {
  if (config.webhookUrl !== undefined && config.webhookSecret === undefined)
    throw new ConfigError("DUET_WEBHOOK_URL needs DUET_WEBHOOK_SECRET (whsec_<base64>)");
  const vapid = [config.vapidPublicKey, config.vapidPrivateKey, config.vapidSubject];
  if (vapid.some((v) => v !== undefined) && vapid.some((v) => v === undefined))
    throw new ConfigError(
      "Web Push needs all of DUET_VAPID_PUBLIC_KEY, DUET_VAPID_PRIVATE_KEY and DUET_VAPID_SUBJECT",
    );
  if (config.moderationUrl !== undefined && config.webhookSecret === undefined)
    throw new ConfigError(
      "DUET_MODERATION_URL needs DUET_WEBHOOK_SECRET (whsec_<base64>): hook requests are signed",
    );
}

const SCREEN_MODES = ["off", "flag", "mask", "reject"];
const HOST = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** SPEC 12's options: the screen, image hosts, the moderation hook and the key it is signed with. */
function validateSafety(config: Config): void {
  if (!SCREEN_MODES.includes(config.screen))
    throw new ConfigError(`--screen must be one of ${SCREEN_MODES.join(", ")}`);
  if (config.imageHosts !== undefined) {
    const hosts = config.imageHosts.split(",").map((h) => h.trim().toLowerCase());
    for (const host of hosts)
      if (!HOST.test(host)) throw new ConfigError(`--image-hosts: "${host}" is not a host name`);
  }
  if (config.moderationFailure !== "open" && config.moderationFailure !== "closed")
    throw new ConfigError("--moderation-failure must be open or closed");
  if (config.moderationTimeoutMs < 1 || config.moderationTimeoutMs > 60_000)
    throw new ConfigError("--moderation-timeout-ms must be 1-60000");
  if (config.moderationUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(config.moderationUrl);
    } catch {
      throw new ConfigError("--moderation-url must be an http(s) URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new ConfigError("--moderation-url must be an http(s) URL");
  }
}

/** DUET_IMAGE_HOSTS as a list (empty when unset). */
export function imageHostList(config: Config): string[] {
  return config.imageHosts === undefined
    ? []
    : config.imageHosts.split(",").map((h) => h.trim().toLowerCase());
}

export function helpText(): string {
  const lines = [
    "Usage: duet [options]",
    "",
    "Every option can also be set by its environment variable.",
    "",
  ];
  for (const def of Object.values(OPTIONS as Record<string, OptionDef>)) {
    const flag = def.kind === "bool" ? `--${def.flag}` : `--${def.flag} <value>`;
    const dflt = def.default === undefined ? "" : ` (default: ${def.default})`;
    lines.push(`  ${flag.padEnd(36)} ${def.env.padEnd(32)} ${def.help}${dflt}`);
  }
  lines.push(`  ${"--help".padEnd(36)} ${"".padEnd(32)} print this help`);
  return lines.join("\n");
}
