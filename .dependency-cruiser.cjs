/**
 * The direction of dependencies in src/ (run by `npm run lint`): the core declares the ports it
 * needs (src/core/ports/) and knows nothing of stores, transports or HTTP; the SDK takes only
 * types from the server; nothing imports in a circle.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle: split out what both sides need (a port in src/core/ports/, or types).",
      from: {},
      to: { circular: true },
    },
    {
      name: "core-is-independent",
      severity: "error",
      comment:
        "src/core imports only src/core: it knows nothing of stores, transports, HTTP, operations or the SDK. Declare the port it needs in src/core/ports/ and implement it outside.",
      from: { path: "^src/core/" },
      to: { path: "^src/", pathNot: "^src/core/" },
    },
    {
      name: "client-imports-types-only",
      severity: "error",
      comment: "The SDK runs in browsers: from server code it may take `import type` only.",
      from: { path: "^src/client/" },
      to: { path: "^src/", pathNot: "^src/client/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "stores-not-transports",
      severity: "error",
      comment: "Stores implement core ports; they know nothing of transports or HTTP.",
      from: { path: "^src/stores/" },
      to: { path: "^src/(transports|http|client)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "node_modules" },
    includeOnly: "^src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
    },
  },
};
