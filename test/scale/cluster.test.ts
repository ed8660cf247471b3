/**
 * duet on a real Redis Cluster (3 masters + 3 replicas on loopback, joined with
 * `redis-cli --cluster create`): what a send costs there, and a failover under traffic. A master
 * that holds recipients' keys is killed; its replica takes over; sends may be refused with 503
 * meanwhile (and are retried with their clientMsgId, as the SDK does); afterwards every accepted
 * message is in its conversation once and reached every connection exactly once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Cluster } from "ioredis";
import { RedisKeys } from "../../src/stores/redis/keys.js";
import { bodyParts, randomIdPart } from "../../src/stores/redis/message-body.js";
import { Scripts } from "../../src/stores/redis/scripts.js";
import type { TransportName } from "../helpers/clients.js";
import { type ChildDuet, tokenFor } from "../helpers/duet.js";
import { at, take } from "../helpers/kit.js";
import { type RedisCluster, startRedisCluster } from "../helpers/redis-server.js";
import {
  costPerSend,
  eventually,
  exactlyOnce,
  historyIds,
  type PostResult,
  postMessage,
  Receiver,
  startDuets,
  stopEverything,
  trafficState,
  userName,
} from "./scale.js";
import { SteadySender } from "./traffic.js";

const TRANSPORTS: TransportName[] = ["ws", "sse", "stream", "longpoll"];

describe("Redis Cluster (3 masters + 3 replicas)", () => {
  let cluster: RedisCluster;
  let duets: ChildDuet[] = [];
  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicas: 1 });
    duets = await startDuets(2, cluster.url);
  });
  after(async () => {
    await stopEverything("cluster", duets);
  });

  it("costs three requests (two in sequence) and two publications per send", async (t) => {
    const cost = await costPerSend(cluster.url, cluster.nodes, 20);
    t.diagnostic(
      `Redis Cluster, per send: ${cost.roundTrips} store requests, ${cost.publications} publications`,
    );
    // The message in the conversation's slot, then each side's event in its own slot (in
    // parallel); one SPUBLISH per side. (The message count is added once a second: message-count.ts.)
    assert.deepEqual(cost, { roundTrips: 3, publications: 2 });
  });

  it("keeps delivering through a master's failover, exactly once", async (t) => {
    const [p0, p1] = take(
      duets.map((d) => d.url),
      2,
    );
    const senders: SteadySender[] = [];
    const receivers = new Map<string, Receiver[]>();
    const opening: Promise<unknown>[] = [];
    const users: string[] = [];
    for (let k = 0; k < 6; k++) {
      const from = userName(`cs${k}`);
      const to = userName(`cr${k}`);
      users.push(to);
      // The recipient on one process, the sender's other device on the other; sends through both.
      const r = new Receiver(to, at(TRANSPORTS, k % 4), () => [p1, p0]);
      const echo = new Receiver(from, at(TRANSPORTS, (k + 1) % 4), () => [p0, p1]);
      opening.push(r.start(p1), echo.start(p0));
      receivers.set(to, [r]);
      receivers.set(from, [echo]);
      senders.push(
        new SteadySender(from, to, {
          bases: () => (k % 2 === 0 ? [p0, p1] : [p1, p0]),
          retry: (r) => r.status === 503 && r.code === "store_unavailable",
        }),
      );
    }
    await Promise.all(opening);
    const all = [...receivers.values()].flat();
    for (const s of senders) s.start();
    await Promise.all(all.map((r) => r.waitForSeq(5)));

    // The master holding the first recipient's keys (its event log and its channel) goes away.
    const victim = await cluster.masterFor(`duet:{u:${users[0]}}:seq`);
    const onVictim = [];
    for (const u of users) if ((await cluster.masterFor(`duet:{u:${u}}:seq`)) === victim) onVictim.push(u);
    await victim.stop("SIGKILL");
    // The others notice after the node timeout (1.5 s) and promote the victim's replica.
    await eventually(
      "a replica taking over",
      async () => (await cluster.masterFor(`duet:{u:${users[0]}}:seq`).catch(() => victim)) !== victim,
    );
    await cluster.waitOk(30_000);
    const seqs = all.map((r) => r.seq);
    await eventually(
      "deliveries after the failover",
      () => all.every((r, i) => r.seq >= at(seqs, i) + 10),
      60_000,
      () => trafficState(senders, all),
    );
    await Promise.all(senders.map((s) => s.stop()));

    const attempts: PostResult[] = senders.flatMap((s) => s.attempts());
    assert.deepEqual(
      attempts.filter((a) => a.hung || a.network),
      [],
      "no send hung",
    );
    for (const s of senders) {
      const ids = await historyIds(p0, s.from, s.to);
      assert.deepEqual(
        ids,
        s.sent.map((m) => m.id),
        `${s.from}>${s.to}: every accepted message stored once`,
      );
      for (const r of [...(receivers.get(s.from) ?? []), ...(receivers.get(s.to) ?? [])]) {
        await r.waitForSeq(ids.length);
        assert.equal(exactlyOnce(r.stored(), 0, ids), null, `${r.user} over ${r.transport}`);
      }
    }
    t.diagnostic(
      `${senders.reduce((n, s) => n + s.sent.length, 0)} messages; ${onVictim.length} of ${users.length} recipients on the killed master; ${attempts.filter((a) => a.status === 503).length} attempts refused with 503 during the failover; reconnections: ${all.map((r) => r.clients.length - 1)}`,
    );
    await Promise.all(all.map((r) => r.stop()));
  });

  it("a send completed by its retry after the process that began it died reaches open connections", async () => {
    const [p0, p1] = take(
      duets.map((d) => d.url),
      2,
    );
    const [from, to] = [userName("half-a"), userName("half-b")];
    const recipient = await new Receiver(to, "ws", () => [p1]).start(p1);
    const echo = await new Receiver(from, "sse", () => [p0]).start(p0);
    // Step 1 of a send (the conversation's slot) only, as if its process died right after it.
    const client = new Cluster(
      cluster.nodes.map((n) => ({ host: "127.0.0.1", port: n.port })),
      { lazyConnect: true },
    );
    try {
      const keys = new RedisKeys();
      const conv = keys.conversation(from, to);
      const input = {
        from,
        to,
        kind: "text" as const,
        text: "half-sent",
        image: null,
        links: [],
        clientMsgId: "h-1",
      };
      const parts = bodyParts(input);
      await new Scripts(client).run(
        "duetStoreMessage",
        [conv.meta, conv.msg, conv.ids, conv.from(from), conv.cmid, conv.blk, conv.pair, conv.exp],
        [from, to, "h-1", "1", randomIdPart(), parts.head, parts.tail, "0"],
      );
      // The client retries with its clientMsgId: the repeat completes both sides' event logs.
      const retry = await postMessage(p0, await tokenFor(from), {
        to,
        text: "half-sent",
        clientMsgId: "h-1",
      });
      assert.equal(retry.status, 200, JSON.stringify(retry));
      // Those events are new: they must reach the connections now, not at the next message.
      await Promise.all([recipient.waitForSeq(1, 15_000), echo.waitForSeq(1, 15_000)]);
      assert.equal(exactlyOnce(recipient.stored(), 0, [retry.id as string]), null);
      assert.equal(exactlyOnce(echo.stored(), 0, [retry.id as string]), null);
    } finally {
      client.disconnect();
      await Promise.all([recipient.stop(), echo.stop()]);
    }
  });
});
