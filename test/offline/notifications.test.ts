/** SPEC section 14, notifications: only for offline users, grouped, dropped when they no longer apply. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect } from "../helpers/clients.js";
import { API_KEY, api, spawnDuet, startDuet, type TestServer, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at, freePort, sleep, take } from "../helpers/kit.js";
import { type RedisServer, startRedis, stopAllRedis } from "../helpers/redis-server.js";
import { type Received, type Receiver, startReceiver, WEBHOOK_SECRET } from "../helpers/webhook-receiver.js";

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(stopAllRedis);

async function send(server: { url: string }, from: string, to: string, text: string) {
  const r = await api(server.url, await tokenFor(from), "POST", "/v1/messages", { to, text });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.message as { id: string; ts: number; text: string };
}

/** The notifications `receiver` got for `user`. */
function notificationsFor(receiver: Receiver, user: string): Received[] {
  return receiver.received.filter((r) => r.body.type === "notification" && r.body.data.user === user);
}

const NOTIFY = {
  DUET_WEBHOOK_SECRET: WEBHOOK_SECRET,
  DUET_WEBHOOK_EVENTS: "notification",
  DUET_NOTIFY_DELAY_S: "1",
  DUET_NOTIFY_GROUP_S: "3",
};

for (const storeName of ["sqlite", "redis"] as const) {
  describe(`notifications on ${storeName}`, () => {
    let receiver: Receiver;
    let server: TestServer;
    before(async () => {
      receiver = await startReceiver();
      server = await startDuet({
        ...NOTIFY,
        DUET_STORE: storeName === "sqlite" ? tempDbUrl() : redis.url,
        DUET_WEBHOOK_URL: receiver.url,
      });
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    it("turns a burst to an offline user into one notification with the count, unread total and preview", async () => {
      await send(server, "zed", "bob", "from someone else");
      await send(server, "alice", "bob", "one");
      await send(server, "alice", "bob", "two");
      const third = await send(server, "alice", "bob", `three ${"x".repeat(200)}`);
      await receiver.waitFor(2, 10_000);
      await sleep(1500);
      const forBob = notificationsFor(receiver, "bob");
      assert.equal(forBob.length, 2, JSON.stringify(forBob.map((r) => r.body)));
      const fromAlice = forBob.find((r) => r.body.data.from === "alice");
      assert.ok(fromAlice?.verified);
      assert.equal(fromAlice.id, `not_${third.id}`);
      const data = fromAlice.body.data as {
        count: number;
        unreadTotal: number;
        lastMessage: Record<string, unknown>;
      };
      assert.equal(data.count, 3);
      assert.equal(data.unreadTotal, 4);
      assert.equal(data.lastMessage.id, third.id);
      assert.equal(data.lastMessage.kind, "text");
      const preview = String(data.lastMessage.preview);
      assert.ok(preview.startsWith("three xxx") && preview.endsWith("…") && preview.length <= 121, preview);
    });

    it("does not notify a user who is connected, or who reads the message within the delay", async () => {
      receiver.received.length = 0;
      const carol = await connect("sse", server.url, await tokenFor("carol"));
      await send(server, "dave", "carol", "you are online");
      const read = await send(server, "dave", "erin", "read me quick");
      const marked = await api(server.url, await tokenFor("erin"), "POST", "/v1/conversations/dave/read", {
        upTo: read.id,
      });
      assert.equal(marked.status, 200);
      await sleep(2500);
      assert.deepEqual(notificationsFor(receiver, "carol"), []);
      assert.deepEqual(notificationsFor(receiver, "erin"), []);
      await carol.close();
    });

    it("drops pending notifications on request (unmatch, block, unsend) and after a block", async () => {
      receiver.received.length = 0;
      await send(server, "gus", "hank", "dropped");
      await server.chat.dropPendingNotifications("hank", "gus");
      await send(server, "ida", "jay", "blocked after");
      assert.equal((await api(server.url, await tokenFor("jay"), "PUT", "/v1/blocks/ida")).status, 200);
      await send(server, "kit", "hank", "still notified");
      await receiver.waitFor(1, 10_000);
      await sleep(1500);
      assert.deepEqual(
        receiver.received.map((r) => [r.body.data.user, r.body.data.from]),
        [["hank", "kit"]],
      );
    });

    it("drops pending notifications on unmatch (history kept) and on a ban of the recipient", async () => {
      receiver.received.length = 0;
      const admin = (method: string, path: string, body?: unknown) =>
        api(server.url, API_KEY, method, path, body);
      assert.ok([200, 201].includes((await admin("PUT", "/v1/admin/pairs/ray/sue", {})).status));
      await send(server, "ray", "sue", "before the unmatch");
      assert.equal((await admin("DELETE", "/v1/admin/pairs/ray/sue?history=keep")).status, 200);
      await send(server, "tom", "uma", "before the ban");
      assert.equal((await admin("PUT", "/v1/admin/users/uma/ban", { reason: "spam" })).status, 200);
      await send(server, "vic", "wes", "control");
      await receiver.waitFor(1, 10_000);
      await sleep(1500);
      assert.deepEqual(
        receiver.received.map((r) => [r.body.data.user, r.body.data.from]),
        [["wes", "vic"]],
      );
    });

    it("notifies a pair once per DUET_NOTIFY_GROUP_S: a message soon after waits for the window", async () => {
      receiver.received.length = 0;
      await send(server, "lou", "max", "first");
      await receiver.waitFor(1, 10_000);
      const second = await send(server, "lou", "max", "second");
      const [first, later] = take(await receiver.waitFor(2, 10_000), 2);
      assert.ok(later.at - first.at >= 2800, `${later.at - first.at} ms apart`);
      assert.equal(later.body.data.count, 1);
      assert.equal((later.body.data.lastMessage as { id: string }).id, second.id);
    });
  });
}

describe("notification preview off", () => {
  it("sends preview null", async () => {
    const receiver = await startReceiver();
    const server = await startDuet({ ...NOTIFY, DUET_WEBHOOK_URL: receiver.url, DUET_NOTIFY_PREVIEW: "off" });
    try {
      await send(server, "nia", "oz", "secret words");
      const hook = at(await receiver.waitFor(1, 10_000), 0);
      assert.equal((hook.body.data.lastMessage as { preview: unknown }).preview, null);
      assert.ok(!hook.raw.includes("secret"));
    } finally {
      await server.close();
      await receiver.close();
    }
  });
});

describe("notification durability", () => {
  it("a restart during the delay does not lose the notification", async () => {
    const port = await freePort();
    const receiver = await startReceiver(port);
    const env = {
      ...NOTIFY,
      DUET_NOTIFY_DELAY_S: "3",
      DUET_STORE: tempDbUrl(),
      DUET_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`,
    };
    const first = await spawnDuet(env);
    const message = await send(first, "pat", "quinn", "before the crash");
    await first.kill("SIGKILL");
    const second = await spawnDuet(env);
    try {
      const hook = at(await receiver.waitFor(1, 20_000), 0);
      assert.equal(hook.body.data.user, "quinn");
      assert.equal((hook.body.data.lastMessage as { id: string }).id, message.id);
    } finally {
      await second.kill();
      await receiver.close();
    }
  });
});
