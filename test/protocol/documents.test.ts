/**
 * SPEC section 16: the OpenAPI and AsyncAPI documents. They are built from the schemas the server
 * validates with; the committed files must be what the code builds now (run `npm run docs`), they
 * must pass their official parsers, every registered route must be documented, and a server
 * serves its own OpenAPI document at GET /v1/openapi.json.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Parser } from "@asyncapi/parser";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv } from "ajv";
import { openApiJson } from "../../src/http/openapi.js";
import { asyncApiJson } from "../../src/transports/asyncapi.js";
import { api, startDuet, type TestServer } from "../helpers/duet.js";

const docs = new URL("../../docs/", import.meta.url);
const committed = (name: string) => readFileSync(new URL(name, docs), "utf8");

let server: TestServer;
before(async () => {
  server = await startDuet({ DUET_DEV: "1" });
});
after(() => server.close());

describe("protocol documents", () => {
  it("docs/openapi.json is what the code builds (run `npm run docs` after changing a schema)", () => {
    assert.equal(committed("openapi.json"), openApiJson(), "docs/openapi.json is stale: run npm run docs");
  });

  it("docs/asyncapi.json is what the code builds (run `npm run docs` after changing a schema)", () => {
    assert.equal(committed("asyncapi.json"), asyncApiJson(), "docs/asyncapi.json is stale: run npm run docs");
  });

  it("the OpenAPI document is valid OpenAPI 3.1", async () => {
    const doc = JSON.parse(committed("openapi.json")) as Record<string, unknown>;
    assert.equal(doc.openapi, "3.1.0");
    const result = await new Validator().validate(doc);
    assert.deepEqual(result, { valid: true });
  });

  it("the AsyncAPI document is valid AsyncAPI 3 with no warnings", async () => {
    const { document, diagnostics } = await new Parser().parse(committed("asyncapi.json"));
    assert.ok(document, JSON.stringify(diagnostics));
    assert.deepEqual(
      diagnostics.map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`),
      [],
    );
    assert.match(document.version(), /^3\./);
  });

  it("every example in the AsyncAPI document matches its message's payload", () => {
    const doc = JSON.parse(committed("asyncapi.json")) as {
      components: {
        schemas: Record<string, unknown>;
        messages: Record<string, { payload: unknown; examples?: { payload: unknown }[] }>;
      };
    };
    const ajv = new Ajv({ allowUnionTypes: true, strict: false });
    ajv.addSchema({ $id: "doc", components: doc.components }, "doc");
    let checked = 0;
    for (const [name, message] of Object.entries(doc.components.messages)) {
      for (const example of message.examples ?? []) {
        const payload = JSON.parse(
          JSON.stringify(message.payload).replaceAll('"#/components', '"doc#/components'),
        );
        const valid = ajv.validate(payload, example.payload);
        assert.ok(valid, `${name}: ${ajv.errorsText()}`);
        checked++;
      }
    }
    assert.ok(checked >= 10, `only ${checked} examples`);
  });

  it("every route the server registers is documented, and every documented route is registered", () => {
    const registered = server.routes();
    // The demo page's files (dev mode) are not API.
    const undocumented = registered.filter(
      (r) => r.documented === undefined && r.path !== "/" && r.path !== "/:file",
    );
    assert.deepEqual(undocumented, []);
    const doc = JSON.parse(committed("openapi.json")) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const documented = Object.values(doc.paths).flatMap((ops) =>
      Object.values(ops).map((op) => op.operationId),
    );
    assert.deepEqual(
      registered.flatMap((r) => (r.documented === undefined ? [] : [r.documented])).sort(),
      documented.sort(),
    );
  });

  it("GET /v1/openapi.json serves the document with the server's limits, without a token", async () => {
    const r = await api(server.url, null, "GET", "/v1/openapi.json");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(r.body, JSON.parse(openApiJson({ maxTextLength: 4000, maxPollSeconds: 50 })));
  });
});
