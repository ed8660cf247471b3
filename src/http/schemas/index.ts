/**
 * Every HTTP route's contract, one file per area. Routes register through `route()` (route.ts),
 * which compiles these schemas once; the OpenAPI document (src/http/openapi.ts, committed as
 * docs/openapi.json) is built from ALL_ROUTES; the tests check every answer they see against it.
 *
 * How to add a route:
 *  1. Add a `defineRoute({...})` to the area's file here (or a new file `<area>.ts` returning its
 *     specs, added to allRoutes() below): params/query/body schemas (TypeBox; closed bodies use
 *     `additionalProperties: false`), each success status with its answer's schema, and in
 *     `errors` the registry codes it answers beyond those its auth and inputs imply (errorsOf).
 *     Shapes the core or events share live in src/core/*-schema.ts.
 *  2. Register it with `route(router, api.yourRoute, async (ctx, v) => ...)`, reading its inputs
 *     through `v.params(ctx)`, `v.query(ctx)`, `v.body(await readJson(...))`; keep semantic
 *     checks (a URL's protocol, "not yourself") in code.
 *  3. `npm run docs` regenerates docs/openapi.json and docs/asyncapi.json; commit them (a test
 *     fails while they differ from what the code builds). Add the route to docs/PROTOCOL.md.
 */
import { adminApi } from "./admin.js";
import { bansApi } from "./bans.js";
import { type ApiLimits, DEFAULT_LIMITS } from "./common.js";
import { expiryApi } from "./expiry.js";
import { lifecycleApi } from "./lifecycle.js";
import { opsApi } from "./ops.js";
import { pairsApi } from "./pairs.js";
import { pushApi } from "./push.js";
import { reportsApi } from "./reports.js";
import type { RouteSpec } from "./route.js";
import { streamApi } from "./streams.js";
import { userApi } from "./user.js";
import { userDataApi } from "./user-data.js";
import { webhooksApi } from "./webhooks.js";

export { type ApiLimits, DEFAULT_LIMITS } from "./common.js";
export { compileRoute, defineRoute, errorsOf, type RouteSpec, route } from "./route.js";

/** Every route, in the document's order. */
export function allRoutes(limits: ApiLimits = DEFAULT_LIMITS): RouteSpec[] {
  return [
    ...Object.values(userApi(limits)),
    ...Object.values(lifecycleApi(limits.maxTextLength)),
    ...Object.values(expiryApi()),
    ...Object.values(streamApi(limits)),
    ...Object.values(adminApi(limits)),
    ...Object.values(pairsApi()),
    ...Object.values(bansApi()),
    ...Object.values(userDataApi()),
    ...Object.values(reportsApi()),
    ...Object.values(webhooksApi()),
    ...Object.values(pushApi()),
    ...Object.values(opsApi()),
  ];
}
