/**
 * SPEC 15: an erase is safe to crash. A real duet process (dist/) erasing a user with 300
 * conversations is SIGKILLed midway; after a restart the old token is still refused, part of the
 * work is visibly left, and a repeated DELETE finishes it: no pair, no conversation, no text in
 * the SQLite file or any Redis key.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { API_KEY, api, type ChildDuet, spawnDuet, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { redisHasNo, sqliteHasNo } from "../helpers/store-scan.js";

after(stopAllRedis);

const PEERS = 300;

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

async function pairsOf(base: string, user: string): Promise<number> {
  const r = await api(base, API_KEY, "GET", `/v1/admin/pairs/${user}`);
  assert.equal(r.status, 200);
  return (r.body.pairs as unknown[]).length;
}

for (const storeName of ["sqlite", "redis"] as const) {
  describe(`an erase killed midway, on ${storeName}`, () => {
    it("is finished by a repeat after a restart", async (t) => {
      const store = storeName === "sqlite" ? tempDbUrl() : (await startRedis()).url;
      const env = {
        DUET_STORE: store,
        DUET_PAIRS: "matched",
        DUET_SEND_RATE: "100000",
        DUET_SEND_BURST: "100000",
      };
      const marker = `ZEBRA${randomBytes(6).toString("hex")}`;
      const user = `crashu${randomBytes(3).toString("hex")}`;
      const peers = Array.from({ length: PEERS }, (_, i) => `${user}p${i}`);
      let proc: ChildDuet = await spawnDuet(env);
      try {
        const token = await tokenFor(user);
        await inBatches(peers, 25, async (peer) => {
          assert.equal((await api(proc.url, API_KEY, "PUT", `/v1/admin/pairs/${user}/${peer}`)).status, 201);
          for (let i = 0; i < 3; i++) {
            const r = await api(proc.url, token, "POST", "/v1/messages", {
              to: peer,
              text: `${marker} ${i}`,
            });
            assert.equal(r.status, 201);
          }
          const back = await api(proc.url, await tokenFor(peer), "POST", "/v1/messages", {
            to: user,
            text: `${marker} back`,
          });
          assert.equal(back.status, 201);
        });
        // Two users who stay, so the scan can tell text from no text.
        assert.equal(
          (await api(proc.url, API_KEY, "PUT", `/v1/admin/pairs/${user}k1/${user}k2`)).status,
          201,
        );
        const kept = await api(proc.url, await tokenFor(`${user}k1`), "POST", "/v1/messages", {
          to: `${user}k2`,
          text: "an unrelated conversation",
        });
        assert.equal(kept.status, 201);
        assert.equal(await pairsOf(proc.url, user), PEERS);

        // The erase, killed once a few conversations are gone and most are not.
        const erasing = api(proc.url, API_KEY, "DELETE", `/v1/admin/users/${user}`).catch(() => null);
        let left = PEERS;
        const deadline = Date.now() + 60_000;
        while (left > PEERS - 5 && Date.now() < deadline) left = await pairsOf(proc.url, user);
        await proc.kill("SIGKILL");
        const answered = await erasing;
        assert.equal(answered, null, "the erase finished before the kill");
        assert.ok(left > 0 && left < PEERS, `killed with ${left} pairs left`);

        proc = await spawnDuet(env);
        // The mark went first: the old token is refused at once, even though the work is not done.
        const refused = await api(proc.url, token, "GET", "/v1/conversations");
        assert.equal(refused.status, 401);
        assert.equal((refused.body.error as { code: string }).code, "user_erased");
        const afterRestart = await pairsOf(proc.url, user);
        assert.ok(afterRestart > 0, "nothing was left to finish: the kill came too late");

        t.diagnostic(`killed with ${left} of ${PEERS} pairs left, ${afterRestart} after the restart`);
        const again = await api(proc.url, API_KEY, "DELETE", `/v1/admin/users/${user}`);
        assert.equal(again.status, 200, JSON.stringify(again.body));
        const erased = again.body.erased as { messages: number; pairs: number };
        assert.ok(erased.pairs >= afterRestart, JSON.stringify(erased));
        assert.equal(await pairsOf(proc.url, user), 0);
        // Every peer: no conversation with the user, no history, nothing unread.
        await inBatches(peers, 25, async (peer) => {
          const t = await tokenFor(peer);
          const list = await api(proc.url, t, "GET", "/v1/conversations");
          assert.ok(!JSON.stringify(list.body).includes(marker), `${peer}'s list`);
          assert.deepEqual(list.body.conversations, []);
          const history = await api(proc.url, t, "GET", `/v1/conversations/${user}/messages`);
          assert.deepEqual(history.body.messages, []);
        });
        // A third time: nothing left.
        const third = await api(proc.url, API_KEY, "DELETE", `/v1/admin/users/${user}`);
        assert.deepEqual(third.body, { erased: { messages: 0, pairs: 0 } });
      } finally {
        await proc.kill("SIGTERM");
      }
      if (storeName === "sqlite") sqliteHasNo(store, marker, "an unrelated conversation");
      else await redisHasNo([store], marker, "an unrelated conversation");
    });
  });
}
