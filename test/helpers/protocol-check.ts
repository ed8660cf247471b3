/**
 * Reality against the documents: the tests' HTTP and transport helpers hand every answer, event
 * and frame they see to this module, which checks it against the committed docs/openapi.json
 * (by method, route template and status) and docs/asyncapi.json (by transport and event type or
 * frame op). A mismatch, an undocumented route or status, or an unknown event type fails the test
 * that produced it:
 * - an answer a helper awaits for the test (api(), pollOnce, sendMany) throws right there;
 * - events and frames arrive in callbacks, so they are recorded and a root-level afterEach fails
 *   the test that was running (never a root after(): a throwing after() skips the file's teardown
 *   and the file hangs); one recorded after the last test fails the file through its exit code.
 * The ajv validators are compiled once per process, on first use. Outside a test file (benchmarks,
 * worker processes that import the helpers) nothing is checked. CORS preflights are not checked
 * (OPTIONS answers 204 on every path).
 */
import { appendFileSync, readFileSync } from "node:fs";
import { afterEach } from "node:test";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

/** Only test files check (argv[1] is the test file, run by `node --test` or alone), or DUET_PROTOCOL_CHECK=1. */
export const ACTIVE =
  /\.test\.[cm]?[jt]s$/.test(process.argv[1] ?? "") || process.env.DUET_PROTOCOL_CHECK === "1";

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      { "x-dev-only"?: boolean; responses: Record<string, { content?: Record<string, unknown> }> }
    >
  >;
}
interface AsyncApi {
  components: { messages: Record<string, unknown> };
}

const docs = new URL("../../docs/", import.meta.url);
const openapi = JSON.parse(readFileSync(new URL("openapi.json", docs), "utf8")) as OpenApi;
const asyncapi = JSON.parse(readFileSync(new URL("asyncapi.json", docs), "utf8")) as AsyncApi;

let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  if (ajvInstance !== undefined) return ajvInstance;
  const instance = new Ajv({ strict: false, allowUnionTypes: true, unicode: false, logger: false });
  (addFormatsModule as unknown as (ajv: Ajv) => Ajv)(instance);
  instance.addSchema(openapi, "openapi.json");
  instance.addSchema(asyncapi, "asyncapi.json");
  // Answers given before routing: any error body (431), or a plain not_found (unknown path).
  const errorBody = (code: Record<string, unknown>) => ({
    type: "object",
    required: ["error"],
    properties: { error: { type: "object", required: ["code", "message"], properties: { code } } },
  });
  instance.addSchema(errorBody({ const: "not_found" }), "not-found.json");
  instance.addSchema(errorBody({ type: "string" }), "error-code.json");
  ajvInstance = instance;
  return instance;
}

/** Compiled validators by JSON pointer: each compiled once per process. */
const compiled = new Map<string, ValidateFunction>();
function validator(ref: string): ValidateFunction {
  let v = compiled.get(ref);
  if (v === undefined) {
    v = ajv().compile({ $ref: ref });
    compiled.set(ref, v);
  }
  return v;
}

/** How many answers, events and frames were checked in this process. */
export const counts = { responses: 0, events: 0, frames: 0, webhooks: 0 };

function problemOf(ref: string, value: unknown, what: string): string | undefined {
  const v = validator(ref);
  if (v(value)) return undefined;
  return `${what}: ${ajv().errorsText(v.errors?.slice(0, 3))} in ${JSON.stringify(value).slice(0, 300)}`;
}

const pointer = (s: string) => s.replace(/~/g, "~0").replace(/\//g, "~1");

/** Path templates, those with fewer parameters first (a literal segment wins over `{x}`). */
const templates = Object.keys(openapi.paths)
  .map((template) => ({
    template,
    params: (template.match(/\{/g) ?? []).length,
    regex: new RegExp(
      `^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+")}$`,
    ),
  }))
  .sort((a, b) => a.params - b.params);

/** The demo page's files (dev mode, src/http/demo.ts): static files, not API. */
const DEMO_FILE = /^\/(?:|index\.html|[A-Za-z0-9_-]+\.(?:js|css|svg|png|ico|map))$/;

/** What is wrong with one HTTP answer (`body` is its raw text), or undefined when it is documented. */
export function responseProblem(
  method: string,
  url: string,
  status: number,
  contentType: string | null,
  body: string,
): string | undefined {
  if (method === "OPTIONS") return undefined;
  const path = new URL(url).pathname;
  const what = `${method} ${path} ${status}`;
  const json = contentType !== null && /^application\/json/.test(contentType);
  let parsed: unknown;
  if (json) {
    try {
      parsed = JSON.parse(body);
    } catch {
      return `${what}: the body is not JSON`;
    }
  }
  // Refused before routing, on any path (PROTOCOL.md): the request line or headers are too large.
  if (status === 431) return json ? problemOf("error-code.json", parsed, what) : `${what}: not a JSON error`;
  const found = templates.find((t) => t.regex.test(path));
  if (found === undefined) {
    // An unknown path is a plain 404; the demo's files (dev mode) are not API.
    if (status === 404) return json ? problemOf("not-found.json", parsed, what) : `${what}: not a JSON error`;
    if ((method === "GET" || method === "HEAD") && status === 200 && !json && DEMO_FILE.test(path))
      return undefined;
    return `${what}: no documented route matches`;
  }
  const operations = openapi.paths[found.template] ?? {};
  const op = operations[(method === "HEAD" ? "GET" : method).toLowerCase()];
  if (op === undefined) {
    // Every documented operation lists 405 method_not_allowed; another method on its path gets it.
    const first = Object.keys(operations)[0];
    if (status === 405 && first !== undefined) {
      const ref = `openapi.json#/paths/${pointer(found.template)}/${first}/responses/405/content/application~1json/schema`;
      return json ? problemOf(ref, parsed, what) : `${what}: not a JSON error`;
    }
    return `${what}: ${method} is not documented on ${found.template}`;
  }
  // A dev-only route does not exist outside dev mode: there it is a plain 404 (as an unknown path).
  if (op["x-dev-only"] === true && status === 404 && op.responses["404"] === undefined)
    return json ? problemOf("not-found.json", parsed, what) : `${what}: not a JSON error`;
  const response = op.responses[String(status)];
  if (response === undefined)
    return `${what}: status ${status} is not documented for ${method} ${found.template}`;
  const documented = Object.keys(response.content ?? {});
  if (method === "HEAD" || documented.length === 0) return undefined;
  const type = (contentType ?? "").split(";")[0]?.trim() ?? "";
  if (!documented.includes(type))
    return `${what}: content-type ${contentType ?? "(none)"}, documented ${documented.join(", ")}`;
  if (!json) return undefined;
  const ref = `openapi.json#/paths/${pointer(found.template)}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
  return problemOf(ref, parsed, what);
}

const messages = asyncapi.components.messages;
function messageProblem(key: string, value: unknown, what: string): string | undefined {
  if (!(key in messages)) return `${what}: not in docs/asyncapi.json (no message ${key})`;
  return problemOf(`asyncapi.json#/components/messages/${pointer(key)}/payload`, value, what);
}

/** What is wrong with an event as SSE (`sse`) or NDJSON (`stream`) carries it, a ping line included. */
export function eventProblem(transport: "sse" | "stream", event: unknown): string | undefined {
  const type = String((event as { type?: unknown } | null)?.type);
  if (transport === "stream" && type === "ping") return messageProblem("ndjsonPing", event, "NDJSON ping");
  const key = `${type}${transport === "stream" ? "Ndjson" : "Sse"}`;
  return messageProblem(key, event, `${transport} ${type} event`);
}

/** What is wrong with a frame the server sent on a WebSocket. */
export function wsFrameProblem(frame: unknown): string | undefined {
  const f = frame as { op?: unknown; type?: unknown } | null;
  const op = String(f?.op);
  const name = op === "event" ? `${String(f?.type)}Event` : op;
  return messageProblem(
    `ws${name.charAt(0).toUpperCase()}${name.slice(1)}Frame`,
    frame,
    `WebSocket ${name} frame`,
  );
}

/**
 * What is wrong with a webhook duet POSTed (`raw` is its body): its type must be documented
 * (asyncapi.json's webhook_<type> messages), its payload and its signature headers must match.
 */
export function webhookProblem(raw: string, headers: Record<string, string>): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return `webhook: the body is not JSON: ${raw.slice(0, 80)}`;
  }
  const type = String((body as { type?: unknown } | null)?.type);
  const what = `webhook ${type}`;
  return (
    messageProblem(`webhook_${type.replace(/[^A-Za-z0-9]/g, "_")}`, body, what) ??
    problemOf("asyncapi.json#/components/schemas/WebhookHeaders", headers, `${what} headers`)
  );
}

/** Problems recorded since the last test ended (events and frames arrive outside the test's flow). */
const pending: string[] = [];

/** Takes (and clears) what was recorded and not yet reported. */
export function takeRecorded(): string[] {
  return pending.splice(0);
}

function record(problem: string | undefined): void {
  if (problem !== undefined) pending.push(problem);
}

if (ACTIVE) {
  afterEach(() => {
    const found = takeRecorded();
    if (found.length > 0) {
      const list = found.slice(0, 20).join("\n  ");
      throw new Error(
        `${found.length} event(s)/frame(s)/answer(s) differ from docs/openapi.json or docs/asyncapi.json:\n  ${list}`,
      );
    }
  });
  process.on("exit", () => {
    const found = takeRecorded();
    if (found.length > 0) {
      process.stderr.write(
        `after the last test, ${found.length} event(s)/frame(s) differ from docs/asyncapi.json or docs/openapi.json:\n  ${found.slice(0, 20).join("\n  ")}\n`,
      );
      process.exitCode = 1;
    }
    // DUET_PROTOCOL_COUNT=<file>: each test file appends how much it checked (to count a whole run).
    const file = process.env.DUET_PROTOCOL_COUNT;
    if (file) {
      const line = `${process.argv[1]} ${counts.responses} ${counts.events} ${counts.frames} ${counts.webhooks}\n`;
      try {
        appendFileSync(file, line);
      } catch {
        // counting is best effort
      }
    }
  });
}

/** An answer the test awaits through a helper: throws (failing that test) when it is not documented. */
export function assertResponse(
  method: string,
  url: string,
  status: number,
  contentType: string | null,
  body: string,
): void {
  if (!ACTIVE) return;
  counts.responses++;
  const problem = responseProblem(method, url, status, contentType, body);
  if (problem !== undefined) throw new Error(`the answer differs from docs/openapi.json: ${problem}`);
}

/** An answer seen outside the test's flow (the SDK's requests): recorded, reported after the test. */
export function recordResponse(
  method: string,
  url: string,
  status: number,
  contentType: string | null,
  body: string,
): void {
  if (!ACTIVE) return;
  counts.responses++;
  record(responseProblem(method, url, status, contentType, body));
}

export function recordEvent(transport: "sse" | "stream", event: unknown): void {
  if (!ACTIVE) return;
  counts.events++;
  record(eventProblem(transport, event));
}

export function recordWsFrame(frame: unknown): void {
  if (!ACTIVE) return;
  counts.frames++;
  record(wsFrameProblem(frame));
}

/** A webhook the tests' receiver got (test/helpers/webhook-receiver.ts). */
export function recordWebhook(raw: string, headers: Record<string, string>): void {
  if (!ACTIVE) return;
  counts.webhooks++;
  record(webhookProblem(raw, headers));
}
