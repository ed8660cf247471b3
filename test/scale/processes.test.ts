/**
 * Three real duet processes on one real Redis: the two sides of each conversation on different
 * processes and different transports, each user with a second connection on a third process
 * (its own messages echo there). Every message reaches every connection of both sides exactly
 * once and in the conversation's order, whichever process took the send.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openRedisStore } from "../../src/stores/redis/redis-store.js";
import type { TransportName } from "../helpers/clients.js";
import { type ChildDuet, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import {
  costPerSend,
  exactlyOnce,
  historyIds,
  type PostResult,
  postMessage,
  Receiver,
  startDuets,
  stopEverything,
  userName,
} from "./scale.js";

const PAIRS = 12;
const MESSAGES_PER_PAIR = 16;
const PRIMARY: TransportName[] = ["ws", "sse", "stream", "longpoll"];
const ECHO: TransportName[] = ["poll", "ws", "sse", "stream", "longpoll"];

describe("three duet processes on one Redis", () => {
  let redis: RedisServer;
  let duets: ChildDuet[] = [];
  before(async () => {
    redis = await startRedis();
    duets = await startDuets(3, redis.url);
  });
  after(async () => {
    await stopEverything("processes", duets);
  });

  it("delivers every message exactly once, in order, across processes and transports", async (t) => {
    const urls = duets.map((d) => d.url);
    const all = () => urls;
    interface Pair {
      a: string;
      b: string;
      receivers: Receiver[];
    }
    const pairs: Pair[] = [];
    const opening: Promise<Receiver>[] = [];
    for (let i = 0; i < PAIRS; i++) {
      const a = userName(`a${i}`);
      const b = userName(`b${i}`);
      // a on process i, b on process i+1, and each one's second device on the remaining process.
      const pa = at(urls, i % 3);
      const pb = at(urls, (i + 1) % 3);
      const other = at(urls, (i + 2) % 3);
      const receivers = [
        new Receiver(a, at(PRIMARY, i % 4), all),
        new Receiver(b, at(PRIMARY, (i + 1) % 4), all),
        new Receiver(a, at(ECHO, i % 5), all),
        new Receiver(b, at(ECHO, (i + 2) % 5), all),
      ];
      opening.push(
        at(receivers, 0).start(pa),
        at(receivers, 1).start(pb),
        at(receivers, 2).start(other),
        at(receivers, 3).start(other),
      );
      pairs.push({ a, b, receivers });
    }
    await Promise.all(opening);
    const receivers = pairs.flatMap((p) => p.receivers);
    for (const r of receivers) assert.equal(r.seq, 0, `${r.user} starts with an empty log`);

    // Each pair talks in turns, one message at a time; the pairs all at once. Each send goes to a
    // process chosen in rotation, so senders, recipients and the process taking the send all vary.
    const failures: PostResult[] = [];
    await Promise.all(
      pairs.map(async (pair, i) => {
        const tokens = { [pair.a]: await tokenFor(pair.a), [pair.b]: await tokenFor(pair.b) };
        for (let n = 0; n < MESSAGES_PER_PAIR; n++) {
          const [from, to] = n % 2 === 0 ? [pair.a, pair.b] : [pair.b, pair.a];
          const r = await postMessage(at(urls, (i + n) % 3), at(tokens, from), {
            to,
            text: `${from}>${to} ${n}`,
          });
          if (r.status !== 201) failures.push(r);
        }
      }),
    );
    assert.deepEqual(failures, [], "every send is accepted");

    // Each user's log holds one event per message of its one conversation.
    await Promise.all(receivers.map((r) => r.waitForSeq(MESSAGES_PER_PAIR)));
    for (const pair of pairs) {
      const ids = await historyIds(at(urls, 0), pair.a, pair.b);
      assert.equal(ids.length, MESSAGES_PER_PAIR);
      for (const r of pair.receivers) {
        assert.equal(r.clients.length, 1, `${r.user} ${r.transport} kept its one connection`);
        assert.equal(exactlyOnce(r.stored(), 0, ids), null, `${r.user} over ${r.transport}`);
      }
    }
    t.diagnostic(
      `${PAIRS} pairs × ${MESSAGES_PER_PAIR} messages, ${receivers.length} connections on 3 processes: exactly once, in order`,
    );
    await Promise.all(receivers.map((r) => r.stop()));
  });

  it("costs one Redis round trip and two publications per send", async (t) => {
    const cost = await costPerSend(redis.url, [redis], 20);
    t.diagnostic(
      `standalone Redis, per send: ${cost.roundTrips} store round trips, ${cost.publications} publications`,
    );
    // One script stores the message, appends both sides' events and publishes one SPUBLISH per side.
    assert.deepEqual(cost, { roundTrips: 1, publications: 2 });
  });

  it("a send stored but never answered, then retried through another process, reaches open connections", async () => {
    const urls = duets.map((d) => d.url);
    const [from, to] = [userName("lost-a"), userName("lost-b")];
    const receivers = [
      new Receiver(to, "ws", () => [at(urls, 2)]),
      new Receiver(to, "sse", () => [at(urls, 1)]),
      new Receiver(from, "stream", () => [at(urls, 0)]),
    ];
    await Promise.all([
      at(receivers, 0).start(at(urls, 2)),
      at(receivers, 1).start(at(urls, 1)),
      at(receivers, 2).start(at(urls, 0)),
    ]);
    // The process that took the send stored it and then died (or answered after the client gave
    // up): nothing was published.
    const elsewhere = await openRedisStore(redis.url, {
      retention: { maxEvents: 10_000, maxAgeMs: 86_400_000 },
    });
    try {
      const input = { from, to, kind: "text" as const, text: "stored, unanswered", image: null, links: [] };
      const stored = await elsewhere.send({ ...input, clientMsgId: "u-1" });
      // The client retries with its clientMsgId through another process: the original, 200.
      const retry = await postMessage(at(urls, 1), await tokenFor(from), {
        to,
        text: "stored, unanswered",
        clientMsgId: "u-1",
      });
      assert.equal(retry.status, 200, JSON.stringify(retry));
      assert.equal(retry.id, stored.message.id);
      // Both sides' open connections get it now, not at their next event.
      await Promise.all(receivers.map((r) => r.waitForSeq(1, 15_000)));
      for (const r of receivers)
        assert.equal(exactlyOnce(r.stored(), 0, [stored.message.id]), null, r.transport);
    } finally {
      await elsewhere.close();
      await Promise.all(receivers.map((r) => r.stop()));
    }
  });
});
