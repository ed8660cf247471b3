/**
 * Issue 3, item 7: connections per user (the oldest gives way with a clear reason), the long-poll
 * timeout cap, the server API's disconnect, and SIGTERM on a real process: the held long-poll is
 * answered, the WebSocket closed with 1012, the SSE stream ended, exit code 0, and every message
 * that was accepted is in the store after a restart.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  connect,
  HttpStreamClient,
  PollClient,
  pollOnce,
  type WsClient,
  waitUntil,
} from "../helpers/clients.js";
import { API_KEY, api, spawnDuet, startDuet, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at, take } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";

test("past the per-user limit the oldest connection is closed: 4009 on a WebSocket, an ended stream", async () => {
  const server = await startDuet({ DUET_MAX_CONNECTIONS_PER_USER: "2" });
  try {
    const token = await tokenFor("crowd");
    const first = (await connect("ws", server.url, token)) as WsClient;
    const second = await connect("sse", server.url, token);
    const third = await connect("stream", server.url, token);
    const closed = await first.closed;
    assert.equal(closed.code, 4009);
    assert.equal(closed.reason, "replaced");
    assert.equal(second.ended, undefined);
    assert.equal(third.ended, undefined);

    const fourth = await connect("ws", server.url, token);
    const secondEnd = await second.closed;
    assert.equal(secondEnd.code, undefined, "the SSE stream ended, it was not refused");
    assert.equal(third.ended, undefined);
    assert.equal(server.chat.hub.all().filter((l) => l.user === "crowd").length, 2);

    // The survivors still get events; other users are not affected by this user's limit.
    const other = await connect("ws", server.url, await tokenFor("someone-else"));
    await api(server.url, await tokenFor("friend"), "POST", "/v1/messages", {
      to: "crowd",
      text: "still here?",
    });
    await Promise.all([third.waitForSeq(1), fourth.waitForSeq(1)]);
    assert.equal(other.ended, undefined);
    for (const c of [third, fourth, other]) c.abort();
  } finally {
    await server.close();
  }
});

test("the server API's disconnect closes every connection of the user (4010 on a WebSocket)", async () => {
  const server = await startDuet();
  try {
    const token = await tokenFor("kicked");
    const ws = (await connect("ws", server.url, token)) as WsClient;
    const stream = await connect("stream", server.url, token);
    const res = await fetch(`${server.url}/v1/admin/users/kicked/disconnect`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    assert.equal(res.status, 200);
    assert.equal((await ws.closed).code, 4010);
    assert.equal((await stream.closed).reason, "stream ended");
  } finally {
    await server.close();
  }
});

test("a long-poll's timeout is capped by DUET_MAX_POLL_SECONDS: asked for 30 s, it answers empty", async () => {
  const server = await startDuet({ DUET_MAX_POLL_SECONDS: "1" });
  try {
    const token = await tokenFor("patient");
    const epoch = server.chat.store.epoch;
    // The guard is far below the 30 s asked for, far above the 1 s cap: only the cap answers in it.
    const answer = await pollOnce(
      server.url,
      token,
      { since: 0, epoch },
      30,
      undefined,
      AbortSignal.timeout(20_000),
    );
    assert.deepEqual(answer, { status: 200, events: [], seq: 0, epoch });
  } finally {
    await server.close();
  }
});

test("SIGTERM: long-poll answered, WebSocket closed with 1012, SSE ended, exit 0, accepted messages kept", async () => {
  const store = tempDbUrl();
  const env = { DUET_STORE: store, DUET_SEND_RATE: "100000", DUET_SEND_BURST: "100000" };
  const child = await spawnDuet(env);
  const [pollToken, wsToken, sseToken, senderToken] = take(
    await Promise.all(["sd-poll", "sd-ws", "sd-sse", "sd-sender"].map((u) => tokenFor(u))),
    4,
  );
  const longPoll = new PollClient(child.url, pollToken, "longpoll", { pollTimeout: 25 });
  const ws = (await connect("ws", child.url, wsToken)) as WsClient;
  const sse = new HttpStreamClient(child.url, sseToken, "sse");
  await Promise.all([longPoll.ready(), sse.ready()]);
  await waitUntil("the long-poll is held", () => longPoll.requests === 2);

  // Messages are being sent when the signal arrives; every one answered 201 must survive.
  const accepted: string[] = [];
  let stop = false;
  const senders = Array.from({ length: 8 }, async () => {
    while (!stop) {
      try {
        const res = await api(child.url, senderToken, "POST", "/v1/messages", {
          to: "sd-ws",
          text: "before",
        });
        if (res.status === 201) accepted.push((res.body.message as { id: string }).id);
        else stop = true;
      } catch {
        stop = true; // the listener is gone
      }
    }
  });
  await waitUntil("some messages accepted", () => accepted.length >= 50);
  const code = child.kill("SIGTERM");

  assert.equal(await code, 0);
  stop = true;
  await Promise.all(senders);
  assert.equal((await ws.closed).code, 1012);
  assert.equal((await sse.closed).reason, "stream ended", "the SSE response was ended, not cut");
  await longPoll.closed;
  const answers = longPoll.answers;
  assert.equal(answers.length, 2, "the held long-poll got its answer");
  assert.equal(at(answers, 1).status, 200);
  assert.deepEqual(at(answers, 1).events, []);
  longPoll.abort();

  const again = await spawnDuet(env);
  try {
    const stored = new Set<string>();
    let after: string | undefined;
    for (;;) {
      const page = await api(
        again.url,
        wsToken,
        "GET",
        `/v1/conversations/sd-sender/messages?limit=200${after ? `&after=${after}` : ""}`,
      );
      const messages = page.body.messages as { id: string }[];
      for (const m of messages) stored.add(m.id);
      if (!page.body.hasMore) break;
      after = messages.at(-1)?.id;
    }
    assert.ok(accepted.length >= 50);
    assert.deepEqual(
      accepted.filter((id) => !stored.has(id)),
      [],
      "every message answered 201 is stored",
    );
    // And the store is usable from where it was: a new message gets the next seq.
    const resumed = await connect("stream", again.url, wsToken, { since: 0 });
    await resumed.waitForSeq(stored.size);
    resumed.abort();
  } finally {
    await again.kill("SIGTERM");
  }
});
