import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connect, type DuetClient, TRANSPORTS } from "../../src/client/index.js";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { CheckedWebSocket, checkedFetch } from "../helpers/protocol-tap.js";
import { clientFor, onlineOn, record, textsFrom, waitFor } from "./helpers.js";

let server: TestServer;
const clients: DuetClient[] = [];
before(async () => {
  server = await startDuet();
});
after(async () => {
  for (const c of clients) c.close();
  await server.close();
});

const sendAs = async (from: string, to: string, text: string) =>
  api(server.url, await tokenFor(from), "POST", "/v1/messages", { to, text });

for (const transport of TRANSPORTS) {
  test(`${transport}: a client started from a saved cursor gets exactly what it missed`, async () => {
    const me = `cur-${transport}`;
    const first = await clientFor(server.url, me, { transports: [transport] });
    clients.push(first);
    const r1 = record(first);
    await onlineOn(first);
    await sendAs("peer", me, "seen 1");
    await waitFor("first client got it", () => r1.messages.length === 1);
    const saved = first.cursor!;
    first.close();
    for (const text of ["missed 1", "missed 2", "missed 3"]) await sendAs("peer", me, text);

    const second = await clientFor(server.url, me, { transports: [transport], cursor: saved });
    clients.push(second);
    const r2 = record(second);
    await onlineOn(second);
    await waitFor("the missed three", () => r2.messages.length >= 3);
    await sendAs("peer", me, "live");
    await waitFor("then live", () => r2.messages.length >= 4);
    assert.deepEqual(textsFrom(r2, "peer"), ["missed 1", "missed 2", "missed 3", "live"]);
    assert.deepEqual(r2.resets, [], "a valid cursor needs no reload");
    assert.equal(second.cursor?.seq, saved.seq + 4);
    second.close();
  });
}

test("a cursor from another epoch (a wiped store) gets a reset, then live events", async () => {
  const c = await clientFor(server.url, "epoch-user", { cursor: { seq: 42, epoch: "some-old-epoch" } });
  clients.push(c);
  const r = record(c);
  await onlineOn(c);
  await waitFor("reset", () => r.resets.length === 1);
  assert.equal(at(r.resets, 0).reason, "reset");
  assert.notEqual(c.cursor?.epoch, "some-old-epoch");
  await sendAs("peer", "epoch-user", "after reset");
  await waitFor("live message", () => r.messages.length === 1);
  c.close();
});

test("a cursor ahead of the server's log (rolled back) is reset, so new events are not dropped as duplicates", async () => {
  const probe = await clientFor(server.url, "ahead-user", { transports: ["sse"] });
  clients.push(probe);
  await onlineOn(probe);
  const epoch = probe.cursor!.epoch;
  probe.close();
  for (const transport of ["ws", "longpoll"] as const) {
    const c = await clientFor(server.url, "ahead-user", {
      transports: [transport],
      cursor: { seq: 1000, epoch },
    });
    clients.push(c);
    const r = record(c);
    await onlineOn(c);
    await waitFor(`${transport}: reset`, () => r.resets.length > 0);
    await sendAs("peer", "ahead-user", `new on ${transport}`);
    await waitFor(`${transport}: the new message arrives`, () => r.messages.length === 1);
    assert.deepEqual(
      r.resets.map((x) => x.reason),
      ["reset"],
      `${transport}: reloads once`,
    );
    c.close();
  }
});

test("getToken is asked again when the server refuses the token (expired), on every transport", async () => {
  for (const transport of TRANSPORTS) {
    let calls = 0;
    const c = connect({
      url: server.url,
      WebSocket: CheckedWebSocket,
      fetch: checkedFetch,
      transports: [transport],
      backoff: { initialMs: 50, maxMs: 200 },
      getToken: async () => (++calls === 1 ? tokenFor("tok-user", -60) : tokenFor("tok-user")),
    });
    clients.push(c);
    await onlineOn(c, transport);
    assert.equal(calls, 2, `${transport}: one refusal, one fresh token`);
    const convs = await c.conversations();
    assert.deepEqual(convs, []);
    c.close();
  }
});

test("a fixed token that is refused leaves the client offline with the reason (no endless retries)", async () => {
  const c = connect({
    url: server.url,
    WebSocket: CheckedWebSocket,
    fetch: checkedFetch,
    token: await tokenFor("expired", -60),
    transports: ["sse"],
  });
  clients.push(c);
  await assert.rejects(c.online(), { code: "token_expired" });
  assert.equal(c.status.state, "offline");
});

test("connect() rejects bad options with a clear error", () => {
  assert.throws(() => connect({ url: "ftp://x", token: "t" }), { code: "invalid_input" });
  assert.throws(() => connect({ url: server.url }), { code: "no_token" });
  assert.throws(() => connect({ url: server.url, token: "t", transports: [] }), { code: "invalid_input" });
});

test("long-polling with an up-to-date cursor goes online on its first poll (it does not wait for the hold)", async () => {
  const first = await clientFor(server.url, "lp-fresh", { transports: ["sse"] });
  clients.push(first);
  await onlineOn(first);
  const cursor = first.cursor!;
  first.close();
  // The server would hold a long-poll 25 s; the client gives up on a transport after 3 s here.
  const c = await clientFor(server.url, "lp-fresh", {
    transports: ["longpoll", "poll"],
    cursor,
    connectTimeoutMs: 3000,
  });
  clients.push(c);
  const r = record(c);
  await onlineOn(c);
  assert.equal(c.status.transport, "longpoll");
  await sendAs("peer", "lp-fresh", "held poll answers");
  await waitFor("message over the held poll", () => r.messages.length === 1);
  assert.ok(r.statuses.every((s) => s.transport === "longpoll"));
  c.close();
});
