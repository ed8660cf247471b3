/** The SDK and SPEC 12: a refused send is a typed error with its reason, never retried; report(). */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DuetClient, isMessageRejected } from "../../src/client/index.js";
import { API_KEY, startDuet, type TestServer } from "../helpers/duet.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { names } from "../http/util.js";
import { clientFor, waitFor } from "./helpers.js";

describe("SDK: safety", () => {
  let server: TestServer;
  const clients: DuetClient[] = [];
  before(async () => {
    server = await startDuet({ DUET_SCREEN: "reject" });
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  for (const transports of [["ws"], ["poll"]] as const) {
    it(`rejects a send with contact details as message_rejected + reason, once, over ${transports[0]}`, async () => {
      const [a, b] = names("ann", "ben");
      const ann = await clientFor(server.url, a, { transports: [...transports] });
      clients.push(ann);
      await waitFor("online", () => ann.status.state === "online");
      const start = Date.now();
      const err = await ann.send({ to: b, text: "text me on 555 123 4567" }).then(
        () => assert.fail("the send was accepted"),
        (e: unknown) => e,
      );
      assert.ok(isMessageRejected(err), String(err));
      assert.equal(err.reason, "contact_info");
      assert.equal(err.retryable, false);
      assert.ok(Date.now() - start < 5000);
      assert.equal(ann.pendingSends, 0);
      // Nothing stored, and the next send goes through at once.
      assert.deepEqual((await ann.history(b)).messages, []);
      const ok = await ann.send({ to: b, text: "ok, talk here" });
      assert.equal(ok.text, "ok, talk here");
    });
  }

  it("files a report with report(), and no user route lists it", async () => {
    const [a, b] = names("ann", "ben");
    const ann = await clientFor(server.url, a);
    const ben = await clientFor(server.url, b);
    clients.push(ann, ben);
    const bad = await ben.send({ to: a, text: "you will regret this" });
    const report = await ann.report({ user: b, reason: "harassment", messageIds: [bad.id], note: "threat" });
    assert.equal(report.user, b);
    assert.equal(report.status, "open");
    assert.deepEqual(report.messages, [bad]);
    const listed = await fetch(`${server.url}/v1/admin/reports`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    const { reports } = (await listed.json()) as { reports: { id: string }[] };
    assert.ok(reports.some((r) => r.id === report.id));
    const refused = await ann
      .report({ user: b, reason: "spam", messageIds: ["01JD0000000000000000000000"] })
      .then(
        () => null,
        (e: unknown) => e as { code: string; status: number },
      );
    assert.equal(refused?.code, "invalid_input");
    assert.equal(refused?.status, 400);
  });
});
