/** The bans contract (BanStore in src/core/bans.ts), run unchanged against every store. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Store } from "../../src/core/ports/store.js";

let counter = 0;
const user = (name: string) => `${name}b${++counter}`;

export function runBansContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`bans contract: ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await makeStore();
    });
    after(() => store.close());

    it("stores, shows, lists and lifts a ban", async () => {
      const [a, b] = [user("mallory"), user("eve")];
      assert.equal(await store.bans.banOf(a), null);
      await store.bans.ban(a, { reason: "scam", until: null });
      await store.bans.ban(b, { reason: null, until: Date.now() + 60_000 });
      assert.deepEqual(await store.bans.banOf(a), { reason: "scam", until: null });
      const active = await store.bans.active();
      assert.deepEqual(active.get(a), { reason: "scam", until: null });
      assert.equal(active.get(b)?.reason, null);
      // Banning again replaces the ban.
      await store.bans.ban(a, { reason: "spam", until: null });
      assert.deepEqual(await store.bans.banOf(a), { reason: "spam", until: null });
      assert.equal(await store.bans.unban(a), true);
      assert.equal(await store.bans.unban(a), false);
      assert.equal(await store.bans.banOf(a), null);
      assert.equal((await store.bans.active()).has(a), false);
    });

    it("lets a ban with an `until` expire", async () => {
      const a = user("temp");
      const until = Date.now() + 60_000;
      await store.bans.ban(a, { reason: "cool off", until });
      assert.deepEqual(await store.bans.banOf(a, until - 1), { reason: "cool off", until });
      assert.equal(await store.bans.banOf(a, until), null);
      assert.equal((await store.bans.active(until + 1)).has(a), false);
    });
  });
}
