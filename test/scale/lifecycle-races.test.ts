/**
 * SPEC 13's races on Redis with two real duet processes: two devices editing and reacting at once
 * (through different processes), an edit racing an unsend, a reaction on a message being unsent,
 * an unsend repeated. Every device applies the events it got, in order, to its own view of the
 * messages: the views, and history as either process answers it, end up the same, and no stored
 * event is lost or duplicated on any device.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Message } from "../../src/core/types.js";
import { connect, type TestClient, type WireEvent } from "../helpers/clients.js";
import { api, type ChildDuet, tokenFor } from "../helpers/duet.js";
import { at, take } from "../helpers/kit.js";
import { type RedisServer, startRedis } from "../helpers/redis-server.js";
import { eventually, startDuets, stopEverything, userName } from "./scale.js";

const open: TestClient[] = [];
function keep(client: TestClient): TestClient {
  open.push(client);
  return client;
}

/** A device's view: each message as the events it received, applied in order, make it. */
function viewOf(events: WireEvent[]): Map<string, Message> {
  const view = new Map<string, Message>();
  for (const e of events) {
    if (e.type === "message" || e.type === "edit") {
      const m = e.message as Message;
      view.set(m.id, m);
    } else if (e.type === "delete") {
      const m = view.get(e.id as string);
      if (m !== undefined)
        view.set(m.id, { id: m.id, from: m.from, to: m.to, ts: m.ts, kind: "deleted" } as unknown as Message);
    } else if (e.type === "reaction") {
      const m = view.get(e.id as string);
      if (m === undefined || m.kind === "deleted") continue;
      const reactions = { ...(m.reactions ?? {}) };
      const emoji = e.emoji as string;
      const users = reactions[emoji] ?? [];
      if (e.on === true && !users.includes(e.user as string)) reactions[emoji] = [...users, e.user as string];
      if (e.on === false) reactions[emoji] = users.filter((u) => u !== e.user);
      if (reactions[emoji]?.length === 0) delete reactions[emoji];
      const next: Message = { ...m };
      delete next.reactions;
      if (Object.keys(reactions).length > 0) next.reactions = reactions;
      view.set(m.id, next);
    }
  }
  return view;
}

/** What a view and history are compared on (a device cannot know `deletedAt` from the event). */
function shape(m: Message): unknown {
  if (m.kind === "deleted") return { id: m.id, kind: "deleted" };
  return { id: m.id, text: m.text, editedAt: m.editedAt, reactions: m.reactions ?? null };
}

/** Stored events arrive once each, seqs contiguous from the device's first. */
function checkSeqs(client: TestClient, who: string): void {
  const seqs = client.events
    .filter((e) => typeof e.seq === "number" && e.type !== "hello")
    .map((e) => e.seq as number);
  for (let i = 1; i < seqs.length; i++)
    assert.equal(
      seqs[i],
      at(seqs, i - 1) + 1,
      `${who}: seq ${seqs[i]} after ${seqs[i - 1]} (lost or duplicated)`,
    );
}

describe("message lifecycle races: two duet processes on one Redis", () => {
  let redis: RedisServer;
  let duets: ChildDuet[] = [];
  before(async () => {
    redis = await startRedis();
    duets = await startDuets(2, redis.url);
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await stopEverything("lifecycle-races", duets);
  });

  it("ends with the same state on every device and in history", async () => {
    const [p0, p1] = take(
      duets.map((d) => d.url),
      2,
    );
    const a = userName("ra");
    const b = userName("rb");
    const [ta, tb] = await Promise.all([tokenFor(a), tokenFor(b)]);
    // Each user has a device on each process, on different transports.
    const devices: [string, TestClient][] = [
      [`${a}@p0/ws`, keep(await connect("ws", p0, ta))],
      [`${a}@p1/sse`, keep(await connect("sse", p1, ta))],
      [`${b}@p1/ws`, keep(await connect("ws", p1, tb))],
      [`${b}@p0/stream`, keep(await connect("stream", p0, tb))],
    ];
    const call = (base: string, token: string, method: string, path: string, body?: unknown) =>
      api(base, token, method, path, body);
    const send = async (text: string) => {
      const r = await call(p0, ta, "POST", "/v1/messages", { to: b, text });
      assert.equal(r.status, 201);
      return r.body.message as Message;
    };
    const m1 = await send("race one");
    const m2 = await send("race two");
    const m3 = await send("race three");
    const emoji = ["😀", "😃", "😄", "😁", "😆"];
    const reaction = (base: string, token: string, id: string, e: string, on: boolean) =>
      call(base, token, on ? "PUT" : "DELETE", `/v1/messages/${id}/reactions/${encodeURIComponent(e)}`);
    const ops: Promise<{ status: number }>[] = [];
    // m1: a edits from both processes at once, both users react and unreact from both.
    for (let i = 0; i < 6; i++) {
      ops.push(call(i % 2 ? p1 : p0, ta, "PATCH", `/v1/messages/${m1.id}`, { text: `edit ${i}` }));
    }
    for (const e of emoji) {
      ops.push(reaction(p0, ta, m1.id, e, true), reaction(p1, tb, m1.id, e, true));
      ops.push(reaction(p1, ta, m1.id, e, true), reaction(p0, tb, m1.id, e, true));
    }
    ops.push(reaction(p1, tb, m1.id, "😀", false));
    // m2: an edit racing an unsend, a reaction on it as it goes, the unsend repeated.
    ops.push(call(p0, ta, "PATCH", `/v1/messages/${m2.id}`, { text: "too late?" }));
    ops.push(call(p1, ta, "DELETE", `/v1/messages/${m2.id}`));
    ops.push(reaction(p0, tb, m2.id, "😆", true));
    ops.push(call(p0, ta, "DELETE", `/v1/messages/${m2.id}`));
    ops.push(call(p1, ta, "DELETE", `/v1/messages/${m2.id}`));
    // m3: reactions racing an unsend from the other process.
    ops.push(reaction(p1, tb, m3.id, "😄", true), call(p0, ta, "DELETE", `/v1/messages/${m3.id}`));
    ops.push(reaction(p0, ta, m3.id, "😁", true));
    const results = await Promise.all(ops);
    for (const r of results) assert.ok([200, 409].includes(r.status), `status ${r.status}`);

    const history = async (base: string, token: string, peer: string) => {
      const r = await call(base, token, "GET", `/v1/conversations/${peer}/messages`);
      return (r.body.messages as Message[]).map(shape);
    };
    const truth = await history(p0, ta, b);
    assert.deepEqual(await history(p1, tb, a), truth);
    assert.deepEqual(
      truth.map((m) => (m as { kind?: string }).kind ?? "text"),
      ["text", "deleted", "deleted"],
    );
    // Every device converges on history.
    for (const [who, client] of devices) {
      await eventually(
        `${who} to converge`,
        () => {
          const view = viewOf(client.events);
          return (
            JSON.stringify([m1, m2, m3].map((m) => shape(view.get(m.id) as Message))) ===
            JSON.stringify(truth)
          );
        },
        30_000,
        () => JSON.stringify([m1, m2, m3].map((m) => shape(viewOf(client.events).get(m.id) as Message))),
      );
      checkSeqs(client, who);
    }
    // A device that resumes from the start replays the same final state, with no erased text.
    const late = keep(await connect("longpoll", p1, tb, { since: 0 }));
    await eventually("the replay", () => late.events.some((e) => e.type === "delete" && e.id === m3.id));
    const replayed = viewOf(late.events);
    assert.deepEqual(
      [m1, m2, m3].map((m) => shape(replayed.get(m.id) as Message)),
      truth,
    );
    assert.ok(!JSON.stringify(late.events).includes("race two"), "the replay carries unsent text");
    assert.ok(!JSON.stringify(late.events).includes("too late?"));
    checkSeqs(late, "replay");
  });
});
