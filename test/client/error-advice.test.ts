/**
 * The SDK follows the error registry's advice (src/client/error-table.ts, generated from
 * src/core/errors.ts): an error that says "do not retry" or "do not reconnect" stops it, one that
 * says "retry" is retried. Real servers, real sockets.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DuetClient, TransportName } from "../../src/client/index.js";
import { API_KEY, api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { clientFor, onlineOn, waitFor } from "./helpers.js";

/** A fetch that counts the requests it makes, by "METHOD /path". */
function countingFetch(): { fetch: typeof fetch; count(method: string, path: string): number } {
  const seen: string[] = [];
  return {
    fetch: (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      seen.push(`${init?.method ?? "GET"} ${url.pathname}`);
      return fetch(input, init);
    },
    count: (method, path) => seen.filter((s) => s === `${method} ${path}`).length,
  };
}

let server: TestServer;
/** Allows one send a second, so a burst of sends meets 429 rate_limited. */
let slow: TestServer;
const clients: DuetClient[] = [];
before(async () => {
  server = await startDuet();
  slow = await startDuet({ DUET_SEND_RATE: "1", DUET_SEND_BURST: "1" });
});
after(async () => {
  for (const c of clients) c.close();
  await server.close();
  await slow.close();
});

const ban = async (user: string) =>
  assert.equal((await api(server.url, API_KEY, "PUT", `/v1/admin/users/${user}/ban`)).status, 200);

describe("reconnect: no (user_banned, close 4004)", () => {
  for (const transport of ["ws", "sse", "longpoll"] as TransportName[]) {
    it(`a ban ends the client on ${transport} for good: offline, no reconnect, getToken not asked again`, async () => {
      const user = `banned-${transport}`;
      let tokens = 0;
      const c = await clientFor(server.url, user, {
        transports: [transport],
        token: undefined,
        getToken: () => {
          tokens++;
          return tokenFor(user);
        },
      });
      clients.push(c);
      await onlineOn(c, transport);
      const states: string[] = [];
      c.on("status", (s) => states.push(s.state));
      await ban(user);
      await waitFor("offline", () => c.status.state === "offline", 10_000);
      assert.equal(c.status.error?.code, "user_banned");
      // Half a second more: the client stays down and makes no attempt.
      await sleep(500);
      assert.equal(c.status.state, "offline");
      assert.equal(tokens, 1, "getToken was asked again: a new token cannot lift a ban");
      assert.ok(!states.includes("online"), `came back: ${states.join(" ")}`);
    });
  }

  for (const transport of ["ws", "longpoll"] as TransportName[]) {
    it(`a banned user's client on ${transport} stops at its first attempt`, async () => {
      const user = `banned-first-${transport}`;
      await ban(user);
      let tokens = 0;
      const c = await clientFor(server.url, user, {
        transports: [transport],
        token: undefined,
        getToken: () => {
          tokens++;
          return tokenFor(user);
        },
      });
      clients.push(c);
      await assert.rejects(c.online(), { code: "user_banned" });
      assert.equal(c.status.state, "offline");
      assert.equal(tokens, 1);
    });
  }
});

describe("retry: no (forbidden, 403)", () => {
  it("an edit of someone else's message is refused once and not retried", async () => {
    const counter = countingFetch();
    const a = await clientFor(server.url, "fa", { transports: ["longpoll"] });
    const b = await clientFor(server.url, "fb", { transports: ["longpoll"], fetch: counter.fetch });
    clients.push(a, b);
    await Promise.all([onlineOn(a, "longpoll"), onlineOn(b, "longpoll")]);
    const m = await a.send({ to: "fb", text: "mine" });
    await assert.rejects(b.edit(m.id, "yours now"), { code: "forbidden", status: 403 });
    await sleep(500);
    assert.equal(counter.count("PATCH", `/v1/messages/${m.id}`), 1);
    assert.equal(b.status.state, "online", "a refused request leaves the connection alone");
    const [stored] = (await a.history("fb")).messages;
    assert.equal(stored?.text, "mine");
  });
});

describe("retry: yes (rate_limited, 429)", () => {
  for (const transport of ["ws", "longpoll"] as TransportName[]) {
    it(`sends over the rate on ${transport} are retried until each lands, once`, async () => {
      const counter = countingFetch();
      const from = `rate-a-${transport}`;
      const to = `rate-b-${transport}`;
      const a = await clientFor(slow.url, from, { transports: [transport], fetch: counter.fetch });
      clients.push(a);
      await onlineOn(a, transport);
      const rejected: string[] = [];
      const sent = await Promise.all(
        ["one", "two", "three"].map((text) =>
          a.send({ to, text }).catch((err: { code: string }) => {
            rejected.push(err.code);
            throw err;
          }),
        ),
      );
      assert.deepEqual(rejected, []);
      assert.deepEqual(
        sent.map((m) => m.text),
        ["one", "two", "three"],
      );
      assert.equal(a.pendingSends, 0);
      const { messages } = await a.history(to);
      assert.deepEqual(
        messages.map((m) => m.text),
        ["one", "two", "three"],
        "each stored once, in order",
      );
      // The retries were real: on HTTP, more POSTs than messages (the 429s).
      if (transport === "longpoll") assert.ok(counter.count("POST", "/v1/messages") > 3);
    });
  }
});
