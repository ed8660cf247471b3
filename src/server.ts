import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { type Config, ConfigError, imageHostList } from "./config.js";
import { Auth } from "./core/auth.js";
import { BanService } from "./core/bans.js";
import { Chat } from "./core/chat.js";
import { Disappearing } from "./core/disappearing.js";
import { ErasureService } from "./core/erasures.js";
import { DuetError, toDuetError } from "./core/errors.js";
import { Hub } from "./core/hub.js";
import { Lifecycle } from "./core/lifecycle.js";
import { SafetyGate, type SafetyOptions, type ScreenMode } from "./core/safety/send-gate.js";
import { UserData } from "./core/user-data.js";
import { messageId, onlyKeys, userId } from "./core/validate.js";
import { adminRoutes, mintFromBody } from "./http/admin-routes.js";
import { authenticateClaims } from "./http/auth.js";
import { banRoutes } from "./http/ban-routes.js";
import { readJson } from "./http/body.js";
import { HELD_PATHS, setCors } from "./http/cors.js";
import { serveDemo } from "./http/demo.js";
import { expiryRoutes } from "./http/expiry-routes.js";
import { lifecycleRoutes } from "./http/lifecycle-routes.js";
import { openApiJson } from "./http/openapi.js";
import { outboxRoutes } from "./http/outbox-routes.js";
import { pairRoutes } from "./http/pair-routes.js";
import { pushRoutes } from "./http/push-routes.js";
import { reportRoutes } from "./http/report-routes.js";
import { requestUrl } from "./http/request-url.js";
import { sendError, sendJson, sendRawJson } from "./http/respond.js";
import { type RouteContext, Router } from "./http/router.js";
import { compileRoute, route } from "./http/schemas/index.js";
import { opsApi } from "./http/schemas/ops.js";
import { streamApi } from "./http/schemas/streams.js";
import { userDataRoutes } from "./http/user-data-routes.js";
import { userRoutes } from "./http/user-routes.js";
import type { Logger } from "./log.js";
import { Metrics } from "./metrics.js";
import { HookClient } from "./moderation/hook-client.js";
import { isOutboxStore, isPushStore, startOffline } from "./offline.js";
import { RejectionLog } from "./ops/rejection-log.js";
import { StoreHealth } from "./ops/store-health.js";
import { expiryOf } from "./stores/expiry.js";
import { lifecycleOf } from "./stores/lifecycle.js";
import { openBackend } from "./stores/open-store.js";
import { userDataOf } from "./stores/user-data.js";
import { parseStreamQuery, type StreamRequest } from "./transports/cursor.js";
import { serveStream } from "./transports/http-stream.js";
import { servePoll } from "./transports/poll.js";
import { WsTransport } from "./transports/ws.js";
import { VERSION } from "./version.js";

/** The upgrade socket's error listener (see `upgrade` in startServer). */
function destroySelf(this: Duplex): void {
  this.destroy();
}

export interface RunningServer {
  url: string;
  port: number;
  http: Server;
  chat: Chat;
  /** SPEC 13: edit, unsend, reactions, receipts; its PrivacyPort answers settings and mutes. */
  lifecycle: Lifecycle;
  /** The HTTP routes registered, each with the id of its documented contract (docs/openapi.json). */
  routes(): { method: string; path: string; documented: string | undefined }[];
  /** Stops accepting, ends every connection as SPEC section 6 says, flushes the store. */
  close(): Promise<void>;
}

function readKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.startsWith("@") ? readFileSync(value.slice(1), "utf8") : value.replace(/\\n/g, "\n");
}

/** Builds and starts one duet process from a validated config. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  let secret = config.jwtSecret;
  if (config.dev) {
    log.warn({ msg: "dev mode: anyone who can reach this server can mint tokens (POST /v1/dev/token)" });
    secret ??= randomBytes(32).toString("hex");
  }
  const auth = new Auth({ secret, publicKeyPem: readKey(config.jwtPublicKey) });
  const backend = await openBackend(config.store, {
    retention: { maxEvents: config.retentionEvents, maxAgeMs: config.retentionDays * 86_400_000 },
    sqliteSync: config.sqliteSync === "full" ? "full" : "normal",
    pairs: config.pairs === "matched" ? "matched" : "open",
    messageTtlS: config.messageTtlS,
  });
  const hub = new Hub(backend.broker, backend.presence, {
    maxConnectionsPerUser: config.maxConnectionsPerUser,
    heartbeatMs: { ws: config.wsPingMs, sse: config.streamPingMs, stream: config.streamPingMs, poll: 250 },
  });
  const metrics = new Metrics(hub);
  const health = new StoreHealth(backend.store, log, { checkMs: config.storeCheckMs });
  metrics.watchStore(health);
  const rejections = new RejectionLog(log);
  /** Every error answered, on any transport: counted by code, and told to the operator in summary. */
  const reportError = (error: DuetError) => {
    metrics.error(error.code);
    if (error.code === "store_unavailable") health.refused(error);
    else rejections.note(error.code, error.status);
  };
  // Access log at debug level: method, route template, status, duration; never a query (it may
  // hold a token) and never a body.
  const accessLog = log.isLevelEnabled("debug");
  if (config.moderationUrl !== undefined && config.webhookSecret === undefined)
    throw new ConfigError(
      "DUET_MODERATION_URL needs DUET_WEBHOOK_SECRET (whsec_…): hook requests are signed",
    );
  const moderator =
    config.moderationUrl === undefined || config.webhookSecret === undefined
      ? undefined
      : new HookClient({
          url: config.moderationUrl,
          secret: config.webhookSecret,
          timeoutMs: config.moderationTimeoutMs,
          maxText: config.maxTextLength,
        });
  const safetyOptions: SafetyOptions = {
    screen: config.screen as ScreenMode,
    imageHosts: imageHostList(config),
    moderationFailure: config.moderationFailure === "closed" ? "closed" : "open",
    ...(moderator === undefined ? {} : { moderator }),
  };
  // A pair's own screen setting and `since` (for the hook) cost a store read per send: read only
  // where something uses them (matched pairs, a screen, a hook), so a plain send reads nothing more.
  if (config.pairs === "matched" || SafetyGate.needed(safetyOptions)) {
    safetyOptions.pairLookup = async (a, b) => {
      const pair = await backend.store.pairs.pair(a, b);
      return pair === null ? null : { since: pair.since, screen: pair.screen };
    };
  }
  const chat = new Chat(
    backend.store,
    hub,
    backend.presence,
    {
      sendRate: config.sendRate,
      sendBurst: config.sendBurst,
      pairs: config.pairs === "matched" ? "matched" : "open",
      // Only built when something is configured: a plain send checks nothing.
      ...(SafetyGate.needed(safetyOptions)
        ? { safety: new SafetyGate(safetyOptions, config.maxTextLength) }
        : {}),
      onFlagged: (message, reasons) => log.info({ msg: "message flagged", id: message.id, reasons }),
    },
    metrics,
  );
  const lifecycleStore = await lifecycleOf(backend.store);
  const lifecycle = new Lifecycle(chat, lifecycleStore, {
    editWindowMs: config.editWindowS * 1000,
    unsendWindowMs: config.unsendWindowS * 1000,
    maxReactionsPerUser: 8,
  });
  // SPEC 15: the ttl setting, and the sweeper (on a shared store, one process at a time sweeps;
  // its lease outlives a few ticks, so a process that dies hands over within that time).
  const disappearing = new Disappearing(
    chat,
    await expiryOf(backend.store, { leaseMs: Math.max(5_000, config.expirySweepMs * 3) }),
    {
      intervalMs: config.expirySweepMs,
      onTick: (erased, err) => {
        if (err !== null) log.warn({ msg: "expiry sweep failed", err: (err as Error).message });
        else metrics.messagesExpired(erased);
      },
    },
  );
  const ws = new WsTransport(chat, {
    ops: {
      // SPEC 13: {"op":"delivered","ref"?,"peer","upTo"}, answered like `read`.
      delivered: (userOf, frame) => {
        onlyKeys(frame, ["op", "ref", "peer", "upTo"], "a delivered frame");
        return lifecycle.delivered(userOf, userId(frame.peer, "peer"), messageId(frame.upTo, "upTo"));
      },
    },
    maxPayload: config.bodyLimit,
    maxTextLength: config.maxTextLength,
    bufferLimit: config.bufferLimit,
    frameRate: Math.max(50, config.sendRate * 2),
    frameBurst: Math.max(100, config.sendBurst * 2),
    onError: reportError,
  });
  let shuttingDown = false;

  // Bans (SPEC 12) are checked on every authenticated request from a per-process cache.
  const bans = new BanService(backend.store.bans, hub, { refreshMs: config.banRefreshMs });
  await bans.refresh();
  // SPEC 12: a ban drops the user's pending notifications (a no-op while notifications are off).
  bans.onBan = (banned) => chat.dropPendingNotifications(banned);
  // SPEC 15: erase marks, checked on the same path from memory (refreshed as often as bans).
  const userData = await userDataOf(backend.store);
  const erasures = new ErasureService(userData, hub, { refreshMs: config.banRefreshMs });
  await erasures.refresh();
  /** The user a request or connection acts as: a valid token, not erased since, not banned. */
  const admit = async (ctx: RouteContext, allowQuery: boolean) =>
    bans.check(erasures.check(await authenticateClaims(auth, ctx.req, ctx.url, allowQuery)));
  const user = (ctx: RouteContext) => admit(ctx, false);
  const router = new Router();
  const limits = { maxTextLength: config.maxTextLength, maxPollSeconds: config.maxPollSeconds };
  userRoutes(router, {
    chat,
    user,
    ...limits,
    bodyLimit: config.bodyLimit,
    conversations: (u, limit, before) => lifecycle.conversations(u, limit, before),
  });
  expiryRoutes(router, { disappearing, user, bodyLimit: config.bodyLimit });
  lifecycleRoutes(router, {
    lifecycle,
    user,
    maxTextLength: config.maxTextLength,
    bodyLimit: config.bodyLimit,
  });
  adminRoutes(router, {
    chat,
    auth,
    apiKey: config.apiKey,
    ...limits,
    bodyLimit: config.bodyLimit,
    stats: backend.stats,
  });

  pairRoutes(router, { chat, user, apiKey: config.apiKey, bodyLimit: config.bodyLimit });
  const offline = startOffline(config, backend.store, chat, metrics.registry, log);
  // Notifications follow each user's `notifications` setting and mutes (SPEC 13).
  if (offline.notifier !== null) offline.notifier.preferences = lifecycle;
  if (isOutboxStore(backend.store))
    outboxRoutes(router, {
      outbox: backend.store.outbox,
      apiKey: config.apiKey,
      bodyLimit: config.bodyLimit,
    });
  banRoutes(router, { bans, apiKey: config.apiKey, bodyLimit: config.bodyLimit });
  // SPEC 15: export and erase one user.
  const userDataService = new UserData({
    chat,
    erasures,
    store: backend.store,
    lifecycle: lifecycleStore,
    data: userData,
    push: isPushStore(backend.store) ? backend.store.push : null,
    outbox: isOutboxStore(backend.store) ? backend.store.outbox : null,
    version: VERSION,
  });
  userDataRoutes(router, { data: userDataService, apiKey: config.apiKey });
  reportRoutes(router, { chat, user, apiKey: config.apiKey, bodyLimit: config.bodyLimit });
  if (isPushStore(backend.store))
    pushRoutes(router, {
      publicKey: offline.vapidPublicKey,
      subscriptions: backend.store.push,
      user,
      bodyLimit: config.bodyLimit,
    });

  const ops = opsApi();
  route(router, ops.healthz, ({ res }) => sendJson(res, 200, { ok: true }));
  route(router, ops.readyz, async ({ res }) => {
    if (shuttingDown) throw new DuetError("shutting_down");
    await backend.store.ping();
    sendJson(res, 200, { ok: true, store: backend.store.name });
  });
  // The document with this server's limits, built once.
  const openApi = openApiJson(limits);
  route(router, ops.openapi, ({ res }) => sendRawJson(res, 200, openApi));
  route(router, ops.metrics, async ({ res }) => {
    const body = await metrics.registry.metrics();
    res.writeHead(200, { "content-type": metrics.registry.contentType });
    res.end(body);
  });

  const streams = streamApi(limits);
  /** Refuses new connections past the process limit, before any work is spent on them. */
  const admitStream = async (
    ctx: RouteContext,
    checkQuery: (ctx: RouteContext) => unknown,
    useLastEventId: boolean,
  ): Promise<StreamRequest> => {
    if (shuttingDown) throw new DuetError("shutting_down", undefined, 1);
    if (hub.connectionCount >= config.maxConnections) throw new DuetError("overloaded", undefined, 2);
    const userId = await admit(ctx, true);
    checkQuery(ctx);
    // Checked again: others may have been admitted while this token was verified. From here to
    // the hub's attach there is no await, so the limit holds.
    if (hub.connectionCount >= config.maxConnections) throw new DuetError("overloaded", undefined, 2);
    return { user: userId, ...parseStreamQuery(ctx.url, ctx.req, useLastEventId) };
  };
  route(router, streams.sse, async (ctx, v) => {
    await serveStream(chat, ctx.res, await admitStream(ctx, v.query, true), "sse", config.bufferLimit);
  });
  route(router, streams.ndjson, async (ctx, v) => {
    await serveStream(chat, ctx.res, await admitStream(ctx, v.query, false), "stream", config.bufferLimit);
  });
  route(router, streams.poll, async (ctx, v) => {
    const request = await admitStream(ctx, v.query, false);
    const { timeout = 25 } = v.query(ctx);
    await servePoll(chat, ctx.res, request, Math.min(timeout, config.maxPollSeconds));
  });
  route(router, streams.ws, () => {
    throw new DuetError("invalid_input", "This endpoint needs a WebSocket upgrade.");
  });
  const wsRoute = compileRoute(streams.ws);

  if (config.dev) {
    route(router, ops.devToken, async (ctx, v) => {
      const body = v.body(await readJson(ctx.req, config.bodyLimit));
      sendJson(ctx.res, 201, await mintFromBody(auth, body, 86_400));
    });
    router.on("GET", "/", (ctx) => serveDemo(ctx, "index.html"));
    router.on("GET", "/:file", (ctx) => serveDemo(ctx, ctx.params.file ?? ""));
  }

  const fail = (res: ServerResponse, err: unknown) => {
    const error = toDuetError(err);
    // A held route's answer carries no CORS headers until it writes them: its errors need them too.
    if (!res.headersSent) setCors(res);
    if (error.code === "internal") log.error({ msg: "request failed", err });
    reportError(error);
    sendError(res, error);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let route: string | undefined;
    if (accessLog) {
      const started = performance.now();
      res.once("close", () => logAccess(req.method, route, res.statusCode, started));
    }
    try {
      if (req.method === "OPTIONS") {
        setCors(res);
        res.writeHead(204);
        res.end();
        return;
      }
      const url = new URL(req.url ?? "/", "http://duet.invalid");
      if (!HELD_PATHS.has(url.pathname)) setCors(res);
      const match = router.match(req.method ?? "GET", url.pathname);
      if (!match) throw new DuetError("not_found");
      route = match.route;
      await match.handler({ req, res, url, params: match.params });
    } catch (err) {
      fail(res, err);
    }
  };

  const logAccess = (
    method: string | undefined,
    route: string | undefined,
    status: number,
    started: number,
  ) => {
    const ms = Math.round((performance.now() - started) * 10) / 10;
    log.debug({ msg: "request", method, route: route ?? null, status, ms });
  };

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A shared function, not a closure: this listener stays for the connection's whole life, and
    // a closure here would hold this function's context, whose `req` (the upgrade request: its
    // headers, raw headers and streams, ~1.5 KB) would then live as long as the WebSocket.
    socket.on("error", destroySelf);
    if (accessLog) {
      const started = performance.now();
      const method = req.method;
      const route = req.url?.split("?")[0] === "/v1/ws" ? "/v1/ws" : undefined;
      socket.once("close", () => logAccess(method, route, upgradeStatus.get(socket) ?? 101, started));
    }
    try {
      const url = requestUrl(req.url ?? "/");
      if (url.pathname !== "/v1/ws") throw new DuetError("not_found");
      const request = await admitStream(
        { req, res: undefined as never, url, params: {} },
        wsRoute.query,
        false,
      );
      // The 101 and the stream's first frames (hello, a replay read from the store in the same
      // turn) leave in one write rather than two: a reconnect storm is mostly these.
      socket.cork();
      setImmediate(() => socket.uncork());
      ws.accept(req, socket, head, request);
    } catch (err) {
      rawError(socket, toDuetError(err));
    }
  };

  /** An error answer written straight to a socket (no ServerResponse: upgrades, unparsable requests). */
  const rawError = (socket: Duplex, error: DuetError) => {
    reportError(error);
    if (accessLog) upgradeStatus.set(socket, error.status);
    const body = JSON.stringify({ error: error.toJSON() });
    const retry = error.retryAfter === undefined ? "" : `Retry-After: ${error.retryAfter}\r\n`;
    socket.end(
      `HTTP/1.1 ${error.status} ${error.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`,
    );
  };

  const http = createServer({ keepAliveTimeout: 65_000 }, (req, res) => void handle(req, res));
  http.on("upgrade", (req, socket, head) => void upgrade(req, socket, head));
  // Requests node's parser refuses (oversized head, bad syntax, too slow) still get a JSON error.
  http.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === "HPE_HEADER_OVERFLOW") rawError(socket, new DuetError("headers_too_large"));
    else if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") rawError(socket, new DuetError("request_timeout"));
    else rawError(socket, new DuetError("invalid_input", "The request is not valid HTTP."));
  });

  /** The status a refused upgrade (or unparsable request) was answered with, for the access log. */
  const upgradeStatus = new WeakMap<Duplex, number>();

  const maintenance = setInterval(() => backend.maintain(), 60_000);
  maintenance.unref();
  disappearing.start();

  const host = config.host ?? (config.dev ? "127.0.0.1" : "0.0.0.0");
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    // A deep accept queue (Node's default is 511): after a network blip every client reconnects
    // at once, and SYNs dropped by a full queue come back only after 1 s, 3 s, 7 s of TCP backoff.
    // The kernel caps it at net.core.somaxconn.
    http.listen({ port: config.port, host, backlog: 4096 }, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const close = async () => {
    if (shuttingDown) return;
    shuttingDown = true;
    clearInterval(maintenance);
    health.close();
    http.close();
    // Long-polls are answered, streams ended, WebSockets closed with 1012.
    for (const listener of hub.all()) {
      listener.stop();
      listener.sink.close("shutting_down");
    }
    http.closeIdleConnections();
    // Requests in flight (a send waiting for its commit) get their answer before the store closes.
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(resolve, 5_000);
      deadline.unref();
      http.once("close", () => {
        clearTimeout(deadline);
        resolve();
      });
    });
    http.closeAllConnections();
    hub.close();
    chat.close();
    bans.close();
    erasures.close();
    rejections.close();
    await offline.stop();
    await disappearing.close();
    moderator?.close();
    await backend.close();
  };

  return { url, port, http, chat, lifecycle, close, routes: () => router.list() };
}
