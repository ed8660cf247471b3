/**
 * The outbox contract (src/core/ports/outbox.ts), run unchanged against every store by its test
 * file: runOutboxContract with a factory that returns a fresh, empty store, and (where a store
 * can be shared by processes, Redis) one that opens a second instance on the last store's data.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { OutboxStore } from "../../src/core/ports/outbox.js";
import { PUSH_SUBSCRIPTIONS_PER_USER, type PushStore } from "../../src/core/ports/push-subscriptions.js";
import type { Store } from "../../src/core/ports/store.js";
import { at, sleep } from "../helpers/kit.js";

let counter = 0;

export function runOutboxContract(
  name: string,
  makeStore: () => Promise<Store & OutboxStore>,
  makePeer?: () => Promise<Store & OutboxStore>,
): void {
  describe(`outbox contract: ${name}`, () => {
    let store: Store & OutboxStore;
    /** A second instance on the same data (another process), or the store itself. */
    let peer: Store & OutboxStore;
    before(async () => {
      store = await makeStore();
      peer = makePeer === undefined ? store : await makePeer();
    });
    after(async () => {
      if (peer !== store) await peer.close();
      await store.close();
    });

    /** Claims everything due, acknowledging it: each test starts with an empty queue. */
    const drain = async () => {
      for (const e of await store.outbox.claim(1000, 60_000)) await store.outbox.ack(e.id);
    };

    it("a send writes nothing to the outbox while nothing subscribes", async () => {
      await drain();
      store.setSendOutboxPolicy({ messageCreated: false, notifyDelayMs: null });
      await store.send({
        from: "oa",
        to: "ob",
        kind: "text",
        text: "hi",
        image: null,
        links: [],
        clientMsgId: null,
      });
      assert.deepEqual(await store.outbox.depth(), { pending: 0, failed: 0 });
      assert.equal(await store.outbox.nextDue(), null);
    });

    it("a send enqueues message.created (due now) and a notify entry (due after the delay) with it", async () => {
      await drain();
      store.setSendOutboxPolicy({ messageCreated: true, notifyDelayMs: 60_000 });
      const input = {
        from: "oc",
        to: "od",
        kind: "text" as const,
        text: 'héllo "x"',
        image: null,
        links: [],
        clientMsgId: "k1",
      };
      const sent = await store.send(input);
      const repeat = await store.send(input);
      assert.equal(repeat.duplicate, true);
      assert.deepEqual(await store.outbox.depth(), { pending: 2, failed: 0 });
      const due = await store.outbox.claim(10, 60_000);
      assert.equal(due.length, 1);
      assert.equal(at(due, 0).id, `msg_${sent.message.id}`);
      assert.equal(at(due, 0).type, "message.created");
      assert.deepEqual(JSON.parse(at(due, 0).data), { message: sent.message });
      assert.equal(at(due, 0).attempts, 0);
      assert.equal(at(due, 0).lastError, null);
      assert.ok(Math.abs(at(due, 0).createdAt - sent.message.ts) < 5000);
      const next = await store.outbox.nextDue();
      assert.ok(next !== null && next > Date.now() + 50_000, "the notify entry is due after the delay");
      await store.outbox.ack(at(due, 0).id);
      store.setSendOutboxPolicy({ messageCreated: false, notifyDelayMs: 0 });
      const other = await store.send({ ...input, clientMsgId: null, text: "now" });
      await sleep(5);
      const notify = at(await store.outbox.claim(10, 60_000), 0);
      assert.equal(notify.id, `ntf_${other.message.id}`);
      assert.equal(notify.type, "notify");
      assert.deepEqual(JSON.parse(notify.data), {
        user: "od",
        peer: "oc",
        id: other.message.id,
        ts: other.message.ts,
      });
      await store.outbox.ack(notify.id);
      store.setSendOutboxPolicy({ messageCreated: false, notifyDelayMs: null });
      // An entry that is not due yet can be acknowledged (dropped) by id.
      await store.outbox.ack(`ntf_${sent.message.id}`);
      assert.deepEqual(await store.outbox.depth(), { pending: 0, failed: 0 });
    });

    it("claims due entries oldest first, leases them, and gives them out again when the lease ends", async () => {
      await drain();
      const p = `L${++counter}`;
      const now = Date.now();
      await store.outbox.enqueue([
        { id: `${p}-b`, type: "t", data: "{}", dueAt: now - 10 },
        { id: `${p}-a`, type: "t", data: '{"n":1}', dueAt: now - 20 },
        { id: `${p}-later`, type: "t", data: "{}", dueAt: now + 60_000 },
      ]);
      // Idempotent by id: the repeat adds nothing.
      await store.outbox.enqueue([{ id: `${p}-a`, type: "t", data: '{"n":2}' }]);
      assert.equal((await store.outbox.depth()).pending, 3);
      const first = await store.outbox.claim(10, 300);
      assert.deepEqual(
        first.map((e) => e.id),
        [`${p}-a`, `${p}-b`],
      );
      assert.equal(at(first, 0).data, '{"n":1}');
      assert.deepEqual(await store.outbox.claim(10, 300), [], "leased entries are not handed out twice");
      await sleep(400);
      const again = await store.outbox.claim(1, 300);
      assert.equal(again.length, 1, "limit bounds a claim");
      const rest = await store.outbox.claim(10, 60_000);
      assert.equal(again.length + rest.length, 2);
      for (const e of [...again, ...rest]) await store.outbox.ack(e.id);
      await store.outbox.ack(`${p}-a`); // a second ack is a no-op
      assert.equal((await store.outbox.depth()).pending, 1);
      await store.outbox.fail(`${p}-later`, "gone");
      assert.deepEqual(await store.outbox.depth(), { pending: 0, failed: 1 });
      await store.outbox.retryFailed([`${p}-later`]);
      const later = at(await store.outbox.claim(10, 60_000), 0);
      assert.equal(later.id, `${p}-later`);
      await store.outbox.ack(later.id);
      assert.deepEqual(await store.outbox.depth(), { pending: 0, failed: 0 });
    });

    it("reschedules with an attempt count and the error, fails into the list, and retries all or some", async () => {
      await drain();
      const p = `R${++counter}`;
      await store.outbox.enqueue([
        { id: `${p}-1`, type: "message.created", data: '{"a":1}' },
        { id: `${p}-2`, type: "message.created", data: '{"a":2}' },
        { id: `${p}-3`, type: "notification", data: '{"a":3}' },
      ]);
      const claimed = await store.outbox.claim(10, 60_000);
      assert.equal(claimed.length, 3);
      await store.outbox.reschedule(`${p}-1`, Date.now() - 1, "HTTP 500\nwith a line break");
      const retried = at(await store.outbox.claim(10, 60_000), 0);
      assert.equal(retried.id, `${p}-1`);
      assert.equal(retried.attempts, 1);
      assert.match(retried.lastError ?? "", /^HTTP 500/);
      for (const id of [`${p}-1`, `${p}-2`, `${p}-3`]) await store.outbox.fail(id, `failed ${id}`);
      // Failing what is no longer pending changes nothing.
      await store.outbox.fail(`${p}-1`, "again");
      await store.outbox.reschedule(`${p}-1`, Date.now(), "again");
      await store.outbox.ack(`${p}-1`);
      assert.deepEqual(await store.outbox.depth(), { pending: 0, failed: 3 });
      const failed = await store.outbox.listFailed(10);
      assert.deepEqual(
        failed.map((e) => [e.id, e.attempts, e.lastError]),
        [
          [`${p}-1`, 2, `failed ${p}-1`],
          [`${p}-2`, 1, `failed ${p}-2`],
          [`${p}-3`, 1, `failed ${p}-3`],
        ],
      );
      assert.equal(at(failed, 2).type, "notification");
      assert.equal(at(failed, 2).data, '{"a":3}');
      assert.equal((await store.outbox.listFailed(2)).length, 2);
      assert.equal(await store.outbox.retryFailed([`${p}-2`, "nope"]), 1);
      assert.deepEqual(await store.outbox.depth(), { pending: 1, failed: 2 });
      assert.equal(await store.outbox.retryFailed(), 2);
      assert.deepEqual(await store.outbox.depth(), { pending: 3, failed: 0 });
      const back = await store.outbox.claim(10, 60_000);
      assert.deepEqual(
        back.map((e) => e.attempts),
        [0, 0, 0],
        "a retry starts a fresh budget",
      );
      for (const e of back) await store.outbox.ack(e.id);
    });

    it("scans every entry, pending and failed, in bounded pages, and removes the ones named", async () => {
      await drain();
      const p = `S${++counter}`;
      const ids = Array.from({ length: 25 }, (_, i) => `${p}-${String(i).padStart(2, "0")}`);
      await store.outbox.enqueue(ids.map((id) => ({ id, type: "message.created", data: `{"id":"${id}"}` })));
      for (const e of await store.outbox.claim(5, 60_000)) await store.outbox.fail(e.id, "HTTP 500");
      assert.deepEqual(await store.outbox.depth(), { pending: 20, failed: 5 });
      const seen = new Map<string, string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<typeof store.outbox.scan>> = await store.outbox.scan(cursor, 7);
        for (const e of page.entries) seen.set(e.id, e.data);
        cursor = page.next;
        pages++;
        // Redis answers a small hash (a listpack) whole, whatever the page size: no page count here.
      } while (cursor !== null && pages < 100);
      assert.deepEqual([...seen.keys()].sort(), ids);
      assert.equal(seen.get(`${p}-03`), `{"id":"${p}-03"}`);
      const failedIds = (await store.outbox.listFailed(10)).map((e) => e.id);
      const gone = [...failedIds.slice(0, 2), ...ids.filter((id) => !failedIds.includes(id)).slice(0, 3)];
      assert.equal(await store.outbox.remove([...gone, "nope"]), 5);
      assert.equal(await store.outbox.remove(gone), 0, "a repeat removes nothing");
      assert.deepEqual(await store.outbox.depth(), { pending: 17, failed: 3 });
      const left = await store.outbox.claim(100, 60_000);
      assert.ok(left.every((e) => !gone.includes(e.id)));
      for (const e of left) await store.outbox.ack(e.id);
      await store.outbox.retryFailed();
      for (const e of await store.outbox.claim(100, 60_000)) await store.outbox.ack(e.id);
    });

    it("claims in batches: concurrent claims (from two instances where shared) never hand out an entry twice while leased", async () => {
      await drain();
      const p = `B${++counter}`;
      const now = Date.now();
      const ids = Array.from({ length: 60 }, (_, i) => `${p}-${String(i).padStart(2, "0")}`);
      await store.outbox.enqueue(ids.map((id, i) => ({ id, type: "t", data: "{}", dueAt: now - 1000 + i })));
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store : peer).outbox.claim(9, 60_000)),
      );
      const got = claims.flat().map((e) => e.id);
      assert.equal(got.length, 60, "8 claims of at most 9 take all 60 due entries");
      assert.equal(new Set(got).size, 60, "no entry is handed out twice");
      assert.deepEqual([...got].sort(), ids);
      for (const claim of claims) assert.ok(claim.length <= 9, "limit bounds each claim");
      assert.deepEqual(await peer.outbox.claim(100, 60_000), [], "all are leased");
      assert.deepEqual(await store.outbox.claim(100, 60_000), [], "all are leased");
      await store.outbox.settle(ids.map((id) => ({ id, action: "ack" as const })));
      assert.deepEqual(await store.outbox.depth(), { pending: 0, failed: 0 });
    });

    it("settles a batch in one call: acks, reschedules and fails, each a no-op once not pending", async () => {
      await drain();
      const p = `S${++counter}`;
      await store.outbox.enqueue(
        ["a", "b", "c", "d"].map((x) => ({ id: `${p}-${x}`, type: "t", data: `"${x}"` })),
      );
      assert.equal((await store.outbox.claim(10, 60_000)).length, 4);
      await store.outbox.settle([]);
      await peer.outbox.settle([
        { id: `${p}-a`, action: "ack" },
        { id: `${p}-b`, action: "reschedule", dueAt: Date.now() - 1, lastError: "HTTP 503\nbusy" },
        { id: `${p}-c`, action: "fail", lastError: "HTTP 410" },
        { id: `${p}-a`, action: "ack" },
        { id: `${p}-nope`, action: "fail", lastError: "x" },
        { id: `${p}-c`, action: "reschedule", dueAt: Date.now(), lastError: "after fail" },
      ]);
      assert.deepEqual(await store.outbox.depth(), { pending: 2, failed: 1 });
      const back = await store.outbox.claim(10, 60_000);
      assert.deepEqual(
        back.map((e) => e.id),
        [`${p}-b`],
        "the rescheduled entry is due again; the unsettled one stays leased",
      );
      assert.equal(at(back, 0).attempts, 1);
      assert.match(at(back, 0).lastError ?? "", /^HTTP 503/);
      const failed = await store.outbox.listFailed(10);
      assert.deepEqual(
        failed.map((e) => [e.id, e.attempts, e.lastError]),
        [[`${p}-c`, 1, "HTTP 410"]],
      );
      await store.outbox.settle([
        { id: `${p}-b`, action: "ack" },
        { id: `${p}-d`, action: "ack" },
      ]);
      assert.deepEqual(await store.outbox.depth(), { pending: 0, failed: 1 });
      await store.outbox.retryFailed();
      for (const e of await store.outbox.claim(10, 60_000)) await store.outbox.ack(e.id);
      assert.deepEqual(await store.outbox.depth(), { pending: 0, failed: 0 });
    });

    it("keeps marks until they expire", async () => {
      const key = `mark${++counter}`;
      assert.equal(await store.outbox.getMark(key), null);
      await store.outbox.setMark(key, "v1", 60_000);
      await store.outbox.setMark(key, "v2", 200);
      assert.equal(await store.outbox.getMark(key), "v2");
      await sleep(300);
      assert.equal(await store.outbox.getMark(key), null);
    });
  });
}

/** Web Push subscriptions (src/core/ports/push-subscriptions.ts), run by every store too. */
export function runPushContract(name: string, makeStore: () => Promise<Store & PushStore>): void {
  describe(`push subscriptions contract: ${name}`, () => {
    let store: Store & PushStore;
    before(async () => {
      store = await makeStore();
    });
    after(() => store.close());

    const sub = (n: number, auth = "AAAAAAAAAAAAAAAAAAAAAA") => ({
      endpoint: `https://push.example/${n}`,
      keys: { p256dh: `key${n}`, auth },
      expirationTime: null,
    });

    it("adds up to the limit, updates by endpoint, removes, and keeps users apart", async () => {
      const user = `pu${++counter}`;
      assert.deepEqual(await store.push.pushSubscriptions(user), []);
      for (let i = 0; i < PUSH_SUBSCRIPTIONS_PER_USER; i++)
        assert.equal(await store.push.addPushSubscription(user, sub(i)), "added");
      assert.equal(await store.push.addPushSubscription(user, sub(99)), "full");
      assert.equal(await store.push.addPushSubscription(user, sub(3, "BBBBBBBBBBBBBBBBBBBBBB")), "updated");
      const list = await store.push.pushSubscriptions(user);
      assert.equal(list.length, PUSH_SUBSCRIPTIONS_PER_USER);
      assert.equal(list.find((s) => s.endpoint === sub(3).endpoint)?.keys.auth, "BBBBBBBBBBBBBBBBBBBBBB");
      assert.deepEqual(await store.push.pushSubscriptions(`${user}x`), []);
      assert.equal(await store.push.removePushSubscription(user, sub(3).endpoint), true);
      assert.equal(await store.push.removePushSubscription(user, sub(3).endpoint), false);
      assert.equal(await store.push.addPushSubscription(user, sub(99)), "added");
    });
  });
}
