/** The SDK and SPEC 11: typed `pair` events, not_matched a typed error that is never retried. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DuetClient, isNotMatched, type PairEvent } from "../../src/client/index.js";
import { API_KEY, api, startDuet, type TestServer } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { names } from "../http/util.js";
import { clientFor, waitFor } from "./helpers.js";

describe("SDK: pairs", () => {
  let server: TestServer;
  const clients: DuetClient[] = [];
  before(async () => {
    server = await startDuet({ DUET_PAIRS: "matched" });
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  for (const transports of [["ws"], ["poll"]] as const) {
    it(`refuses an unmatched send once as not_matched, and sees the match and the unmatch, over ${transports[0]}`, async () => {
      const [a, b] = names("ann", "ben");
      const ann = await clientFor(server.url, a, { transports: [...transports] });
      const ben = await clientFor(server.url, b, { transports: [...transports] });
      clients.push(ann, ben);
      const annPairs: PairEvent[] = [];
      const benPairs: PairEvent[] = [];
      ann.on("pair", (e) => annPairs.push(e));
      ben.on("pair", (e) => benPairs.push(e));
      await waitFor("online", () => ann.status.state === "online" && ben.status.state === "online");
      const start = Date.now();
      const err = await ann.send({ to: b, text: "hi" }).then(
        () => assert.fail("the send was accepted"),
        (e: unknown) => e,
      );
      assert.ok(isNotMatched(err), String(err));
      assert.equal(err.retryable, false);
      assert.ok(Date.now() - start < 5000);
      assert.equal(ann.pendingSends, 0);

      assert.equal((await api(server.url, API_KEY, "PUT", `/v1/admin/pairs/${a}/${b}`)).status, 201);
      await waitFor("both matched", () => annPairs.length === 1 && benPairs.length === 1);
      assert.deepEqual([at(annPairs, 0).peer, at(annPairs, 0).state], [b, "matched"]);
      const m = await ann.send({ to: b, text: "hi now" });
      assert.equal(m.text, "hi now");
      assert.equal((await api(server.url, API_KEY, "DELETE", `/v1/admin/pairs/${a}/${b}`)).status, 200);
      await waitFor("both unmatched", () => annPairs.length === 2 && benPairs.length === 2);
      assert.deepEqual(
        [at(benPairs, 1).peer, at(benPairs, 1).state, at(benPairs, 1).historyDeleted],
        [a, "unmatched", true],
      );
      assert.deepEqual((await ben.history(a)).messages, []);
      // The erased seqs are a gap in the log: the client goes on from the unmatch, no reload.
      const next = await ann.send({ to: b, text: "after" }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(isNotMatched(next));
    });
  }
});
