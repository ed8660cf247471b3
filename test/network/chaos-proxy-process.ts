/**
 * A chaos proxy in a process of its own, for load tests where the proxy's socket work must not
 * share a CPU with the clients: `node --import tsx test/network/chaos-proxy-process.ts <port>`
 * prints `{"port":N}`, then obeys lines on stdin: `cutAll` (answers `{"cut":M}`, the links reset).
 */
import { createInterface } from "node:readline";
import { ChaosProxy } from "../helpers/chaos-proxy.js";

const proxy = await ChaosProxy.start({ target: { port: Number(process.argv[2]) } });
console.log(JSON.stringify({ port: proxy.port }));
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "cutAll") {
    const links = proxy.links.size;
    proxy.cutAll();
    console.log(JSON.stringify({ cut: links }));
  }
});
process.stdin.on("end", () => {
  void proxy.close().then(() => process.exit(0));
});
