/**
 * Issue 2, item 3: a 201 means stored. A real duet process on a SQLite file is killed (SIGKILL)
 * right after answering, or stopped (SIGTERM) with sends in flight, then started again on the
 * same file: every message it answered 2xx for is there.
 *
 * The steps share one data file and run in order; each starts the server the previous one left.
 */

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Message } from "../../src/core/types.js";
import { api, type ChildDuet, spawnDuet, tempDbUrl, tokenFor } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";

const store = tempDbUrl();
const env = { DUET_STORE: store, DUET_SEND_RATE: "100000", DUET_SEND_BURST: "100000" };
const alice = "alice";
const bob = "bob";
let duet: ChildDuet | undefined;

after(async () => {
  await duet?.kill("SIGKILL");
});

async function start(): Promise<ChildDuet> {
  duet = await spawnDuet(env);
  return duet;
}

/** Every message of the alice-bob conversation, paging through history. */
async function allMessages(url: string): Promise<Map<string, Message>> {
  const token = await tokenFor(alice);
  const out = new Map<string, Message>();
  let before = "";
  for (;;) {
    const r = await api(url, token, "GET", `/v1/conversations/${bob}/messages?limit=200${before}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const page = r.body.messages as Message[];
    for (const m of page) out.set(m.id, m);
    if (!r.body.hasMore) return out;
    before = `&before=${at(page, 0).id}`;
  }
}

type Outcome = { ok: true; status: number; message: Message } | { ok: false; status: number; error: string };

/** Sends `n` messages at once; `onFirst2xx` runs as soon as the first one is answered 2xx. */
async function burst(url: string, n: number, tag: string, onFirst2xx: () => void): Promise<Outcome[]> {
  const token = await tokenFor(alice);
  let fired = false;
  return Promise.all(
    Array.from({ length: n }, async (_, i): Promise<Outcome> => {
      try {
        const res = await fetch(`${url}/v1/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ to: bob, text: `${tag} ${i}`, clientMsgId: `${tag}-${i}` }),
        });
        const text = await res.text();
        if (res.status >= 200 && res.status < 300) {
          if (!fired) {
            fired = true;
            onFirst2xx();
          }
          return {
            ok: true,
            status: res.status,
            message: (JSON.parse(text) as { message: Message }).message,
          };
        }
        return { ok: false, status: res.status, error: text };
      } catch (err) {
        return { ok: false, status: 0, error: String((err as Error).cause ?? err) };
      }
    }),
  );
}

describe("durability on SQLite", () => {
  it("a message answered 201 survives a SIGKILL right after", async () => {
    const server = await start();
    const r = await api(server.url, await tokenFor(alice), "POST", "/v1/messages", {
      to: bob,
      text: "kill me",
    });
    assert.equal(r.status, 201);
    server.proc.kill("SIGKILL");
    assert.equal(await server.exited, "SIGKILL");

    const again = await start();
    const stored = await allMessages(again.url);
    assert.deepEqual(stored.get((r.body.message as Message).id), r.body.message);
  });

  it("every message of a burst of 200 answered 201 survives a SIGKILL mid-burst", async () => {
    const server = duet!;
    const outcomes = await burst(server.url, 200, "burst", () => server.proc.kill("SIGKILL"));
    assert.equal(await server.exited, "SIGKILL");
    const answered = outcomes.filter((o) => o.ok);
    assert.ok(answered.length >= 1);
    for (const o of outcomes) {
      // Whatever was not answered 2xx failed visibly (cut connection), never silently.
      if (!o.ok) assert.equal(o.status, 0, o.error);
    }

    const again = await start();
    const stored = await allMessages(again.url);
    for (const o of answered) if (o.ok) assert.deepEqual(stored.get(o.message.id), o.message);
    // Nothing appears twice, whatever got stored without an answer.
    const texts = [...stored.values()].map((m) => m.text);
    assert.equal(new Set(texts).size, texts.length);
  });

  it("SIGTERM with sends in flight: each send is a 2xx that is stored, or an error", async () => {
    const server = duet!;
    const outcomes = await burst(server.url, 200, "term", () => server.proc.kill("SIGTERM"));
    assert.equal(await server.exited, 0);
    const answered = outcomes.filter((o) => o.ok);
    assert.ok(answered.length >= 1);
    for (const o of outcomes) {
      if (!o.ok) {
        // Refused while shutting down (503 with a JSON error) or a closed connection.
        assert.ok(o.status === 0 || o.status === 503, `${o.status} ${o.error}`);
        if (o.status === 503) assert.match(o.error, /"code":"(shutting_down|store_unavailable)"/);
      }
    }

    const again = await start();
    const stored = await allMessages(again.url);
    for (const o of answered) if (o.ok) assert.deepEqual(stored.get(o.message.id), o.message);
    // A retry of every send with its clientMsgId finds the stored ones and stores the rest: no loss.
    const token = await tokenFor(alice);
    const retries = await Promise.all(
      outcomes.map((_, i) =>
        api(again.url, token, "POST", "/v1/messages", {
          to: bob,
          text: `term ${i}`,
          clientMsgId: `term-${i}`,
        }),
      ),
    );
    retries.forEach((r, i) => {
      assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
      const o = at(outcomes, i);
      if (o.ok) {
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.message, o.message);
      }
    });
    const after = await allMessages(again.url);
    assert.equal([...after.values()].filter((m) => m.text?.startsWith("term ")).length, 200);
    await again.kill("SIGTERM");
  });
});
