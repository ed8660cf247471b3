/**
 * Issue 3, item 9: presence. Online while a WebSocket or stream is open or a poll happened in the
 * last 60 s (a held long-poll included); `lastSeen` once the last connection closed; whoever
 * blocked the viewer always looks offline to it, with no `lastSeen` to give it away.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { LocalPresence } from "../../src/core/local-presence.js";
import { connect, PollClient, pollOnce, type TestClient, TRANSPORTS, waitUntil } from "../helpers/clients.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at, sleep } from "../helpers/kit.js";

let server: TestServer;
let viewerToken: string;

before(async () => {
  server = await startDuet();
  viewerToken = await tokenFor("viewer");
});

after(() => server.close());

async function presence(users: string[], token = viewerToken) {
  const res = await api(server.url, token, "GET", `/v1/presence?users=${users.join(",")}`);
  assert.equal(res.status, 200);
  return res.body.presence as Record<string, { online: boolean; lastSeen?: number }>;
}

for (const transport of ["ws", "sse", "stream"] as const) {
  test(`${transport}: online while open, offline with lastSeen once the last connection closed`, async () => {
    const user = `pr-${transport}`;
    const token = await tokenFor(user);
    assert.deepEqual((await presence([user]))[user], { online: false }, "never seen");
    const first = await connect(transport, server.url, token);
    const second = await connect(transport, server.url, token);
    assert.deepEqual((await presence([user]))[user], { online: true });
    await first.close();
    await waitUntil(
      "the first connection is gone",
      () => server.chat.hub.all().filter((l) => l.user === user).length === 1,
    );
    assert.deepEqual((await presence([user]))[user], { online: true }, "one connection is still open");
    const beforeClose = Date.now();
    second.abort();
    await waitUntil("the last connection is gone", () => server.chat.hub.all().every((l) => l.user !== user));
    const seen = at(await presence([user]), user);
    assert.equal(seen.online, false);
    assert.ok(
      typeof seen.lastSeen === "number" && seen.lastSeen >= beforeClose && seen.lastSeen <= Date.now(),
    );
  });
}

test("polling: online after a short poll, and while a long-poll is held", async () => {
  const shortToken = await tokenFor("pr-poll");
  await pollOnce(server.url, shortToken, {}, 0);
  assert.deepEqual((await presence(["pr-poll"]))["pr-poll"], { online: true });

  // A client that resumes straight into a long-poll is online while the poll is held.
  const longToken = await tokenFor("pr-longpoll");
  const held = new PollClient(server.url, longToken, "longpoll", {
    since: 0,
    epoch: server.chat.store.epoch,
  });
  try {
    await waitUntil("the long-poll is held", () =>
      server.chat.hub.all().some((l) => l.user === "pr-longpoll"),
    );
    assert.deepEqual((await presence(["pr-longpoll"]))["pr-longpoll"], { online: true });
  } finally {
    held.abort();
  }
});

test("the poll window: online for pollWindowMs after a poll, then lastSeen is that poll", async () => {
  const local = new LocalPresence(100);
  const before = Date.now();
  local.polled("u");
  assert.deepEqual(await local.query(["u"]), { u: { online: true } });
  // Wait (on the condition, with a generous guard) for the window to pass.
  const guard = Date.now() + 10_000;
  let info = at(await local.query(["u"]), "u");
  while (info.online && Date.now() < guard) {
    await sleep(10);
    info = at(await local.query(["u"]), "u");
  }
  assert.equal(info.online, false);
  assert.ok(info.lastSeen !== undefined && info.lastSeen >= before);
  // A stream: online while open, lastSeen when it closed.
  local.connected("u");
  assert.deepEqual(await local.query(["u"]), { u: { online: true } });
  local.disconnected("u");
  const gone = at(await local.query(["u"]), "u");
  assert.equal(gone.online, false, "closing a stream is not a poll");
  assert.ok(gone.lastSeen !== undefined && gone.lastSeen >= (info.lastSeen as number));
});

test("a blocked user sees the blocker offline (no lastSeen); everyone else sees it online", async () => {
  const [blockerToken, pestToken] = await Promise.all([tokenFor("pr-blocker"), tokenFor("pr-pest")]);
  const pest = await connect("ws", server.url, pestToken);
  const clients: TestClient[] = [pest];
  try {
    for (const transport of TRANSPORTS) {
      clients.push(await connect(transport, server.url, blockerToken));
    }
    assert.equal((await api(server.url, blockerToken, "PUT", "/v1/blocks/pr-pest")).status, 200);
    assert.deepEqual(await presence(["pr-blocker"], pestToken), { "pr-blocker": { online: false } });
    assert.deepEqual(await presence(["pr-blocker"], viewerToken), { "pr-blocker": { online: true } });
    // The blocker still sees the user it blocked.
    assert.deepEqual(await presence(["pr-pest"], blockerToken), { "pr-pest": { online: true } });
    for (const c of clients.slice(1)) c.abort();
    await waitUntil("the blocker's connections are gone", () =>
      server.chat.hub.all().every((l) => l.user !== "pr-blocker"),
    );
    assert.deepEqual(
      await presence(["pr-blocker"], pestToken),
      { "pr-blocker": { online: false } },
      "no lastSeen",
    );
    assert.equal((await api(server.url, blockerToken, "DELETE", "/v1/blocks/pr-pest")).status, 200);
    assert.deepEqual(await presence(["pr-blocker"], pestToken), await presence(["pr-blocker"], viewerToken));
  } finally {
    for (const c of clients) c.abort();
  }
});
