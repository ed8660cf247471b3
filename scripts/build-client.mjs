#!/usr/bin/env node
// Bundles the client SDK for browsers (demo/duet-client.js, an ES module apps can also use) and
// the demo page's script (demo/app.js, which loads the SDK bundle, never a second copy of it), and
// its service worker (demo/sw.js: shows Web Push notifications).
// `npm run build` runs this; the browser test calls buildClient() itself.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const SDK_ENTRY = resolve(root, "src/client/index.ts");

/** demo/app.ts imports the SDK from its source; in the bundle that becomes ./duet-client.js. */
const sdkAsExternal = {
  name: "duet-client-external",
  setup(b) {
    b.onResolve({ filter: /client\/index\.js$/ }, (args) => {
      const target = resolve(args.resolveDir, args.path).replace(/\.js$/, ".ts");
      return target === SDK_ENTRY ? { path: "./duet-client.js", external: true } : undefined;
    });
  },
};

export async function buildClient() {
  const common = {
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    sourcemap: true,
    logLevel: "warning",
    legalComments: "none",
  };
  await build({ ...common, entryPoints: [SDK_ENTRY], outfile: resolve(root, "demo/duet-client.js") });
  await build({
    ...common,
    entryPoints: [resolve(root, "demo/app.ts")],
    outfile: resolve(root, "demo/app.js"),
    plugins: [sdkAsExternal],
  });
  // A classic script (service workers are registered as classic scripts by default): no exports.
  await build({
    ...common,
    format: "iife",
    entryPoints: [resolve(root, "demo/sw.ts")],
    outfile: resolve(root, "demo/sw.js"),
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildClient();
}
