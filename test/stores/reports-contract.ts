/** The reports contract (ReportStore in src/core/safety/reports.ts), run unchanged against every store. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MonotonicUlid } from "../../src/core/ids.js";
import type { Store } from "../../src/core/ports/store.js";
import type { Report } from "../../src/core/safety/reports.js";
import type { SendInput } from "../../src/core/types.js";

let counter = 0;
const user = (name: string) => `${name}r${++counter}`;
const ids = new MonotonicUlid();

function text(from: string, to: string, body: string): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId: null };
}

function report(reporter: string, reported: string, extra: Partial<Report> = {}): Report {
  return {
    id: ids.next(),
    reporter,
    user: reported,
    reason: "harassment",
    note: null,
    messageIds: [],
    messages: [],
    status: "open",
    createdAt: Date.now(),
    resolvedAt: null,
    action: null,
    ...extra,
  };
}

export function runReportsContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`reports contract: ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await makeStore();
    });
    after(() => store.close());

    it("stores a report whole and lists open reports newest first, in pages", async () => {
      const [a, b] = [user("ann"), user("ben")];
      const m = await store.send(text(b, a, "you are awful"));
      const first = report(a, b, { messageIds: [m.message.id], messages: [m.message], note: "since Monday" });
      const second = report(a, b, { reason: "spam" });
      const third = report(b, a, { reason: "other" });
      for (const r of [first, second, third]) await store.reports.create(r);
      assert.deepEqual(await store.reports.get(first.id), first);
      const open = await store.reports.list("open", 100);
      const mine = open.filter((r) => [first.id, second.id, third.id].includes(r.id));
      assert.deepEqual(mine, [third, second, first]);
      const page = await store.reports.list("open", 1, second.id);
      assert.deepEqual(page[0], first);
      assert.deepEqual(await store.reports.list("resolved", 100, first.id), []);
      assert.equal(await store.reports.get(ids.next()), null);
    });

    it("resolves once: status, time and action set, the copies dropped; a repeat changes nothing", async () => {
      const [a, b] = [user("ann"), user("ben")];
      const m = await store.send(text(b, a, "evidence"));
      const filed = report(a, b, { messageIds: [m.message.id], messages: [m.message] });
      await store.reports.create(filed);
      const at = Date.now();
      const resolved = await store.reports.resolve(filed.id, "banned", at);
      assert.deepEqual(resolved, {
        ...filed,
        status: "resolved",
        resolvedAt: at,
        action: "banned",
        messages: [],
      });
      assert.deepEqual(await store.reports.resolve(filed.id, "again", at + 5), resolved);
      assert.deepEqual(await store.reports.get(filed.id), resolved);
      assert.ok(!(await store.reports.list("open", 1000)).some((r) => r.id === filed.id));
      assert.deepEqual(
        (await store.reports.list("resolved", 1000)).find((r) => r.id === filed.id),
        resolved,
      );
      assert.equal(await store.reports.resolve(ids.next(), null, at), null);
    });

    it("finds messages of one conversation by id, in id order, and nothing of another", async () => {
      const [a, b, c] = [user("ann"), user("ben"), user("cat")];
      const m1 = await store.send(text(a, b, "one"));
      const m2 = await store.send(text(b, a, "two"));
      const other = await store.send(text(c, a, "elsewhere"));
      const found = await store.reports.conversationMessages(a, b, [
        m2.message.id,
        m1.message.id,
        other.message.id,
        ids.next(),
      ]);
      assert.deepEqual(found, [m1.message, m2.message]);
      assert.deepEqual(await store.reports.conversationMessages(b, a, [m1.message.id]), [m1.message]);
      assert.deepEqual(await store.reports.conversationMessages(a, c, [m1.message.id]), []);
      assert.deepEqual(await store.reports.conversationMessages(a, b, []), []);
    });

    it("keeps a report's copies when the conversation is erased by an unmatch", async () => {
      const [a, b] = [user("ann"), user("ben")];
      await store.pairs.match(a, b, null);
      const m = await store.send(text(b, a, "a threat, kept as evidence"));
      const filed = report(a, b, { messageIds: [m.message.id], messages: [m.message] });
      await store.reports.create(filed);
      await store.pairs.unmatch(a, b, true);
      assert.deepEqual((await store.history(a, b, { limit: 10 })).messages, []);
      assert.deepEqual(await store.reports.conversationMessages(a, b, [m.message.id]), []);
      assert.deepEqual((await store.reports.get(filed.id))?.messages, [m.message]);
    });
  });
}
