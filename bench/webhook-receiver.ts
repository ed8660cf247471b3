/**
 * A webhook receiver for measuring W1 with webhooks on (docs/PERFORMANCE.md):
 *   node --import tsx bench/webhook-receiver.ts fast 9901   answers every webhook 204 at once
 *   node --import tsx bench/webhook-receiver.ts hang 9902   accepts and never answers (a dead receiver)
 * then: npm run bench -- --workload w1 --runs 1 --duet-env DUET_WEBHOOK_URL=http://127.0.0.1:9901/
 *   --duet-env DUET_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
 * It prints how many webhooks it received when it gets SIGINT/SIGTERM.
 */
import { createServer } from "node:http";

const mode = process.argv[2] ?? "fast";
const port = Number(process.argv[3] ?? 9901);
let received = 0;
const server = createServer((req, res) => {
  received++;
  req.resume();
  if (mode === "hang") return;
  req.on("end", () => {
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () =>
  process.stdout.write(`receiver (${mode}) on http://127.0.0.1:${port}/\n`),
);
const stop = () => {
  process.stdout.write(`received ${received} webhooks\n`);
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
