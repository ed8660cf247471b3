/**
 * Run by hook.test.ts as a test file of its own (DUET_PROTOCOL_CHECK=1): a stream sends an event
 * the documents do not know. The recording hook must fail this test, not hang the file: the
 * server below is closed by a root after(), which must still run.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { HttpStreamClient } from "../helpers/clients.js";

const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  res.write(`${JSON.stringify({ type: "frobnicated", seq: 1 })}\n`);
});
before(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)));
after(() => {
  server.closeAllConnections();
  server.close();
  process.stdout.write("# teardown ran\n");
});

test("receives an undocumented event", async () => {
  const { port } = server.address() as AddressInfo;
  const client = new HttpStreamClient(`http://127.0.0.1:${port}`, "token", "ndjson");
  await client.ready();
  client.abort();
});

test("a later test is unaffected", () => {});
