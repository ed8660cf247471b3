// Writes docs/openapi.json and docs/asyncapi.json from the schemas the server validates with
// (default limits). test/protocol/documents.test.ts fails while the committed files differ.
import { writeFileSync } from "node:fs";
import { openApiJson } from "../src/http/openapi.js";
import { asyncApiJson } from "../src/transports/asyncapi.js";

const docs = new URL("../docs/", import.meta.url);
writeFileSync(new URL("openapi.json", docs), openApiJson());
writeFileSync(new URL("asyncapi.json", docs), asyncApiJson());
console.log("wrote docs/openapi.json and docs/asyncapi.json");
