/**
 * Faults under steady traffic (a message every ~50 ms per sender), with real duet processes on a
 * real redis-server (AOF on): (a) kill -9 of one of three processes: its clients resume on another
 * process with no loss and no duplicate; (b) a restart of redis-server: sends during the outage get
 * a prompt 503, nothing 201'd is lost, /readyz goes 503 then 200, and the connections already
 * open deliver again without restarting duet. The two run in turn on the same processes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { TransportName } from "../helpers/clients.js";
import { type ChildDuet, tokenFor } from "../helpers/duet.js";
import { at, sleep, take } from "../helpers/kit.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import {
  eventually,
  exactlyOnce,
  historyIds,
  type PostResult,
  postMessage,
  Receiver,
  startDuets,
  statusOf,
  stopEverything,
  trafficState,
  userName,
} from "./scale.js";
import { SteadySender } from "./traffic.js";

const TRANSPORTS: TransportName[] = ["ws", "sse", "stream", "longpoll"];

/** Everything each sender sent is in the conversation once, and each receiver got it exactly once. */
async function checkDelivery(base: string, senders: SteadySender[], receivers: Map<string, Receiver[]>) {
  for (const s of senders) {
    const ids = await historyIds(base, s.from, s.to);
    const accepted = s.sent.map((m) => m.id);
    assert.deepEqual(ids, accepted, `${s.from}>${s.to}: every accepted message stored once, in order`);
    for (const user of [s.from, s.to]) {
      for (const r of receivers.get(user) ?? []) {
        await r.waitForSeq(ids.length);
        assert.equal(exactlyOnce(r.stored(), 0, ids), null, `${r.user} over ${r.transport}`);
      }
    }
  }
}

describe("faults under traffic", () => {
  let redis: RedisServer;
  let duets: ChildDuet[] = [];
  before(async () => {
    redis = await startRedis({ appendonly: true });
    duets = await startDuets(3, redis.url);
  });
  after(async () => {
    await stopEverything("faults", duets);
  });

  it("kill -9 of one process: its clients resume on another with no loss and no duplicate", async (t) => {
    const [p0, p1, victim] = take(
      duets.map((d) => d.url),
      3,
    );
    let killed = false;
    const alive = () => (killed ? [p0, p1] : [p0, p1, victim]);
    const senders: SteadySender[] = [];
    const receivers = new Map<string, Receiver[]>();
    const onVictim: Receiver[] = [];
    const opening: Promise<unknown>[] = [];
    for (let k = 0; k < 4; k++) {
      const from = userName(`ks${k}`);
      const to = userName(`kr${k}`);
      // The recipient and the sender's other device are on the victim; the recipient has a second
      // device on a survivor. Half the senders send through the victim until it is gone.
      const mine = [
        new Receiver(to, at(TRANSPORTS, k), alive),
        new Receiver(from, at(TRANSPORTS, (k + 1) % 4), alive),
        new Receiver(to, at(TRANSPORTS, (k + 2) % 4), alive),
      ];
      opening.push(
        at(mine, 0).start(victim),
        at(mine, 1).start(victim),
        at(mine, 2).start(k % 2 === 0 ? p0 : p1),
      );
      onVictim.push(at(mine, 0), at(mine, 1));
      receivers.set(to, [at(mine, 0), at(mine, 2)]);
      receivers.set(from, [at(mine, 1)]);
      const through = k < 2 ? [p0, p1] : [victim, p0, p1];
      senders.push(
        new SteadySender(from, to, {
          bases: () => (killed ? [p0, p1] : through),
          // Only a connection to the dead process may fail; the retry carries the same clientMsgId.
          retry: (r) => r.network !== undefined,
        }),
      );
    }
    await Promise.all(opening);
    for (const s of senders) s.start();
    await Promise.all(onVictim.map((r) => r.waitForSeq(5)));

    await at(duets, 2).kill("SIGKILL");
    killed = true;
    // Every client of the victim reconnects elsewhere and receives there, while traffic goes on.
    await eventually(
      "the victim's clients receiving on survivors",
      () => onVictim.every((r) => r.clients.length >= 2 && r.current.stored().length >= 5),
      60_000,
      () => trafficState(senders, onVictim),
    );
    await Promise.all(senders.map((s) => s.stop()));

    for (const r of onVictim) assert.ok([p0, p1].includes(r.base), `${r.user} moved to a survivor`);
    await checkDelivery(p0, senders, receivers);
    const retried = senders.flatMap((s) => s.sent).filter((m) => m.attempts.length > 1);
    t.diagnostic(
      `${senders.reduce((n, s) => n + s.sent.length, 0)} messages, ${retried.length} retried after the kill (${retried.filter((m) => !m.created).length} of them already stored: 200), ${onVictim.length} connections moved`,
    );
    await Promise.all([...receivers.values()].flat().map((r) => r.stop()));
  });

  it("Redis restart (AOF): prompt 503s, no lost 201, /readyz 503 then 200, open connections resume", async (t) => {
    const [p0, p1] = take(
      duets.map((d) => d.url),
      2,
    );
    const senders: SteadySender[] = [];
    const receivers = new Map<string, Receiver[]>();
    const opening: Promise<unknown>[] = [];
    for (let k = 0; k < 4; k++) {
      const from = userName(`rs${k}`);
      const to = userName(`rr${k}`);
      const r = new Receiver(to, at(TRANSPORTS, k), () => [p1]);
      const echo = new Receiver(from, at(TRANSPORTS, (k + 1) % 4), () => [p0]);
      opening.push(r.start(p1), echo.start(p0));
      receivers.set(to, [r]);
      receivers.set(from, [echo]);
      senders.push(
        new SteadySender(from, to, {
          bases: () => [k % 2 === 0 ? p0 : p1],
          // While Redis is away a send is refused with 503 store_unavailable, never left hanging.
          retry: (r) => r.status === 503 && r.code === "store_unavailable",
        }),
      );
    }
    await Promise.all(opening);
    const all = [...receivers.values()].flat();

    // /readyz of both processes, asked again and again throughout.
    const ready: Record<string, number[]> = { [p0]: [], [p1]: [] };
    let watching = true;
    const watch = Promise.all(
      [p0, p1].map(async (base) => {
        while (watching) {
          at(ready, base).push(await statusOf(`${base}/readyz`));
          await sleep(100);
        }
      }),
    );

    for (const s of senders) s.start();
    await Promise.all(all.map((r) => r.waitForSeq(5)));
    await redis.stop("SIGTERM");
    // Down long enough for every Redis connection to be in its reconnect backoff (1 s at most).
    await eventually(
      "503s while Redis is down",
      () =>
        [p0, p1].every((b) => at(ready, b).filter((s) => s === 503).length >= 10) &&
        senders.every((s) => s.attempts().filter((a) => a.status === 503).length >= 10),
    );
    const seqsDuringOutage = all.map((r) => r.seq);
    await redis.start();
    await eventually("/readyz 200 again", () => [p0, p1].every((b) => at(ready, b).at(-1) === 200));
    // Live delivery resumes on the connections that were open all along.
    await eventually(
      "deliveries after the restart",
      () => all.every((r, i) => r.seq >= at(seqsDuringOutage, i) + 10),
      60_000,
      () => trafficState(senders, all),
    );
    await Promise.all(senders.map((s) => s.stop()));
    watching = false;
    await watch;

    const attempts: PostResult[] = senders.flatMap((s) => s.attempts());
    assert.deepEqual(
      attempts.filter((a) => a.hung || a.network),
      [],
      "no send hung or lost its connection",
    );
    for (const base of [p0, p1]) {
      const seen = at(ready, base);
      const down = seen.indexOf(503);
      assert.ok(down > 0 && seen.slice(0, down).every((s) => s === 200), `${base} /readyz: ${seen}`);
      assert.ok(seen.slice(down).includes(200), `${base} /readyz back to 200: ${seen}`);
      assert.ok(!seen.includes(0), `${base} /readyz always answered: ${seen}`);
    }
    for (const r of all) {
      if (r.transport !== "longpoll")
        assert.equal(
          r.clients.length,
          1,
          `${r.user} ${r.transport}: the same connection throughout (it ended: ${JSON.stringify(at(r.clients, 0).ended)})`,
        );
    }
    await checkDelivery(p0, senders, receivers);
    const refused = attempts.filter((a) => a.status === 503).length;
    t.diagnostic(
      `${senders.reduce((n, s) => n + s.sent.length, 0)} messages, ${refused} attempts refused with 503 during the outage; long-poll re-requests: ${all.filter((r) => r.transport === "longpoll").map((r) => r.clients.length - 1)}`,
    );
    await Promise.all(all.map((r) => r.stop()));
  });

  it("a lost subscriber connection: what was published meanwhile still reaches the open connections", async (t) => {
    const [p0, p1] = take(
      duets.map((d) => d.url),
      2,
    );
    const from = userName("ls");
    const to = userName("lr");
    const receivers = (["ws", "sse", "stream"] as const).map(
      (transport) => new Receiver(to, transport, () => [p1]),
    );
    await Promise.all(receivers.map((r) => r.start(p1)));
    // An admin connection held open: past maxclients nobody else may connect.
    const admin = new Redis(redis.url, { lazyConnect: true });
    await admin.connect();
    try {
      await admin.config("SET", "maxclients", "1");
      // The subscriber connections go, and cannot come back; the command connections stay.
      assert.ok(Number(await admin.call("CLIENT", "KILL", "TYPE", "pubsub")) >= 1);
      const token = await tokenFor(from);
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) {
        const r = await postMessage(p0, token, { to, text: `while unsubscribed ${n}` });
        assert.equal(r.status, 201, JSON.stringify(r));
        ids.push(r.id as string);
      }
      assert.ok(
        receivers.every((r) => r.seq === 0),
        "nothing can arrive while p1 is not subscribed",
      );
      await admin.config("SET", "maxclients", "10000");
      // p1 reconnects, resubscribes and resyncs its streams from the store.
      await Promise.all(receivers.map((r) => r.waitForSeq(5)));
      for (const r of receivers) {
        assert.equal(r.clients.length, 1, `${r.transport}: the same connection throughout`);
        assert.equal(exactlyOnce(r.stored(), 0, ids), null, r.transport);
      }
      t.diagnostic(
        "5 messages published while p1 had no subscriber connection: delivered after it came back",
      );
    } finally {
      await admin.config("SET", "maxclients", "10000").catch(() => {});
      admin.disconnect();
      await Promise.all(receivers.map((r) => r.stop()));
    }
  });
});
