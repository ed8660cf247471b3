// Writes docs/openapi.json and docs/asyncapi.json from the schemas the server validates with
// (default limits), and src/client/error-table.ts from the error registry. test/protocol/documents.test.ts
// and test/errors.test.ts fail while the committed files differ.
import { writeFileSync } from "node:fs";
import { openApiJson } from "../src/http/openapi.js";
import { asyncApiJson } from "../src/transports/asyncapi.js";
import { errorTableSource } from "./error-table.js";

const docs = new URL("../docs/", import.meta.url);
writeFileSync(new URL("openapi.json", docs), openApiJson());
writeFileSync(new URL("asyncapi.json", docs), asyncApiJson());
console.log("wrote docs/openapi.json and docs/asyncapi.json");
writeFileSync(new URL("../src/client/error-table.ts", import.meta.url), errorTableSource());
console.log("wrote src/client/error-table.ts");
