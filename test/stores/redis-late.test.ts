/**
 * A Redis store's deadline and what it must not break. A send is one EVALSHA: once written to
 * Redis it cannot be withdrawn, so a send answered store_unavailable may still be committed
 * afterwards. Whatever is committed must reach the users' open connections, on every process;
 * and every send answered with its message must too. Two "processes" here: each its own store,
 * broker, hub and chat, on one real redis-server; the streams are real EventStreams.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { Chat } from "../../src/core/chat.js";
import { DuetError } from "../../src/core/errors.js";
import { Hub } from "../../src/core/hub.js";
import { LocalPresence } from "../../src/core/local-presence.js";
import type { Sink } from "../../src/core/ports/sink.js";
import { EventStream } from "../../src/core/stream.js";
import type { Message, SendInput } from "../../src/core/types.js";
import { openRedisBroker, type RedisBroker } from "../../src/stores/redis/redis-broker.js";
import { openRedisStore, type RedisStore } from "../../src/stores/redis/redis-store.js";
import { at, sleep } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";

const retention = { maxEvents: 100_000, maxAgeMs: 86_400_000 };

async function eventually(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function text(from: string, to: string, body: string, clientMsgId: string | null = null): SendInput {
  return { from, to, kind: "text", text: body, image: null, links: [], clientMsgId };
}

interface Process {
  store: RedisStore;
  broker: RedisBroker;
  hub: Hub;
  chat: Chat;
}

/**
 * One process's parts. With `storePublishes` (as open-store.ts wires them) the send script
 * publishes a send's events itself, as the process's broker; without, the broker does after.
 */
async function startProcess(
  url: string,
  prefix: string,
  timeoutMs: number,
  storePublishes: boolean,
): Promise<Process> {
  const broker = await openRedisBroker(url, { prefix });
  const nodeId = storePublishes ? broker.nodeId : undefined;
  const store = await openRedisStore(url, { retention, prefix, timeoutMs, nodeId });
  const presence = new LocalPresence();
  const hub = new Hub(broker, presence, { maxConnectionsPerUser: 5, heartbeatMs: {} });
  const chat = new Chat(store, hub, presence, { sendRate: 1e6, sendBurst: 1e6 });
  return { store, broker, hub, chat };
}

async function stopProcess(p: Process): Promise<void> {
  p.chat.close();
  p.hub.close();
  await Promise.all([p.store.close(), p.broker.close()]);
}

/** An open connection of `user`: every stored event it was sent, and how it ended if it did. */
class Connection {
  readonly seqs: number[] = [];
  readonly messages: Message[] = [];
  closedWith: string | null = null;
  readonly stream: EventStream;

  constructor(p: Process, user: string) {
    const sink: Sink = {
      kind: "ws",
      write: (json, seq) => {
        if (seq === null) return;
        this.seqs.push(seq);
        const event = JSON.parse(json) as { type: string; message?: Message };
        if (event.type === "message" && event.message) this.messages.push(event.message);
      },
      close: (reason) => {
        this.closedWith = reason;
      },
    };
    this.stream = new EventStream(p.hub, p.store, user, sink);
  }

  ids(): Set<string> {
    return new Set(this.messages.map((m) => m.id));
  }
}

async function open(p: Process, user: string): Promise<Connection> {
  const c = new Connection(p, user);
  await c.stream.start({});
  return c;
}

/** `op`, tried again while the store is unavailable. */
async function retried<T>(op: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (!isUnavailable(err) || Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

function isUnavailable(err: unknown): boolean {
  return err instanceof DuetError && err.code === "store_unavailable";
}

for (const storePublishes of [true, false])
  describe(`Redis store: answers past the deadline (${storePublishes ? "the send script publishes" : "the broker publishes"})`, () => {
    let server: RedisServer;
    let admin: Redis;
    let one: Process;
    let two: Process;
    const prefix = `late${Math.random().toString(36).slice(2, 6)}:`;

    before(async () => {
      server = await startRedis();
      admin = new Redis(server.url);
      [one, two] = await Promise.all([
        startProcess(server.url, prefix, 300, storePublishes),
        startProcess(server.url, prefix, 300, storePublishes),
      ]);
    });
    after(async () => {
      await Promise.all([stopProcess(one), stopProcess(two)]);
      admin.disconnect();
      await stopAllRedis();
    });

    it("a send answered store_unavailable and committed afterwards reaches both users' open connections", async () => {
      const bob = await open(two, "bob");
      const alice = await open(one, "alice");
      // Redis runs nothing for 1.5 s (every client paused), then runs what was written meanwhile.
      await admin.call("CLIENT", "PAUSE", "1500", "ALL");
      await assert.rejects(one.chat.send(text("alice", "bob", "late", "late-1")), isUnavailable);
      await eventually("the late message on bob's connection (another process)", () =>
        bob.messages.some((m) => m.text === "late"),
      );
      await eventually("the late message on alice's own connection", () =>
        alice.messages.some((m) => m.text === "late"),
      );
      const history = await retried(() => one.store.history("alice", "bob", { limit: 10 }));
      assert.deepEqual(
        history.messages.map((m) => m.text),
        ["late"],
      );
      assert.equal(bob.closedWith, null);
      assert.equal(alice.closedWith, null);
      bob.stream.stop();
      alice.stream.stop();
    });

    it("a mark-read answered store_unavailable and committed afterwards reaches the peer's open connection", async () => {
      const sent = await one.chat.send(text("erin", "fred", "read me"));
      const erin = await open(two, "erin");
      const reads: string[] = [];
      const sink = erin.stream.sink;
      const write = sink.write.bind(sink);
      sink.write = (json, seq) => {
        if (json.includes('"type":"read"')) reads.push(json);
        write(json, seq);
      };
      await admin.call("CLIENT", "PAUSE", "1500", "ALL");
      // The store's own mark-read: Chat.markRead first reads the pair and the reader's settings,
      // and a pause that catches those answers 503 before anything is written. What is tested is
      // the write that Redis commits after its 503; the chat publishes it through onLateWrite.
      await assert.rejects(one.store.markRead("fred", "erin", sent.message.id), isUnavailable);
      await eventually("the late read event on erin's connection", () => reads.length > 0);
      assert.match(at(reads, 0), new RegExp(`"upTo":"${sent.message.id}"`));
      assert.equal(erin.closedWith, null);
      erin.stream.stop();
    });

    it("a burst far past what Redis answers within the deadline, and Redis pausing in the middle: every stored message reaches the peer's open connection, every answered one is stored", async () => {
      const carol = await open(two, "carol");
      const sends: Promise<Message | null>[] = [];
      const failures: string[] = [];
      let settled = 0;
      for (let i = 0; i < 20_000; i++) {
        sends.push(
          one.chat.send(text("dave", "carol", `m${i}`, `c-${i}`)).then(
            (r) => {
              settled++;
              return r.message;
            },
            (err: unknown) => {
              settled++;
              if (!isUnavailable(err)) throw err;
              failures.push((err as Error).message);
              return null;
            },
          ),
        );
      }
      // Once some are answered, Redis stops for a while with the rest written to it.
      await eventually("the first answers", () => settled >= 10_500, 60_000);
      await admin.call("CLIENT", "PAUSE", "1000", "ALL");
      const answered = (await Promise.all(sends)).filter((m): m is Message => m !== null);
      // What the store holds, once everything written to it has run (Redis may still be paused).
      const stored: Message[] = [];
      let after = "0";
      for (;;) {
        const page = await retried(() => one.store.history("carol", "dave", { after, limit: 200 }));
        stored.push(...page.messages);
        if (!page.hasMore || page.messages.length === 0) break;
        after = at(page.messages, page.messages.length - 1).id;
      }
      const storedIds = new Set(stored.map((m) => m.id));
      for (const m of answered) assert.ok(storedIds.has(m.id), `answered ${m.text} is stored`);
      await eventually(
        `all ${stored.length} stored messages on carol's connection (${answered.length} answered, ${failures.length} refused)`,
        () => carol.messages.length >= stored.length || carol.closedWith !== null,
        60_000,
      );
      assert.equal(carol.closedWith, null, "carol's connection stays open");
      assert.deepEqual(carol.ids(), storedIds);
      // In order and each once.
      for (let i = 1; i < carol.seqs.length; i++) assert.equal(at(carol.seqs, i), at(carol.seqs, i - 1) + 1);
      carol.stream.stop();
    });
  });

describe("RedisBroker: a subscription acknowledged after whenSubscribed stopped waiting", () => {
  let server: RedisServer;
  let admin: Redis;
  let broker: RedisBroker;
  before(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
    broker = await openRedisBroker(server.url, { timeoutMs: 200 });
  });
  after(async () => {
    await broker.close();
    admin.disconnect();
    await stopAllRedis();
  });

  it("tells the user's local connections to read the store once it is active", async () => {
    const got: Array<[string, string]> = [];
    broker.onMessage((user, message) => got.push([user, message.kind]));
    await admin.call("CLIENT", "PAUSE", "1000", "ALL");
    broker.subscribe("zed");
    // Gives up waiting (a stream then reads the store) while the SSUBSCRIBE is not run yet.
    await broker.whenSubscribed("zed");
    assert.equal(got.length, 0);
    await eventually("a sync for zed", () => got.some(([u, k]) => u === "zed" && k === "sync"));
  });
});
