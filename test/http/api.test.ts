/** SPEC section 4: every endpoint of the user HTTP API, happy paths and documented errors. */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ConversationSummary, Message } from "../../src/core/types.js";
import { startDuet, type TestServer } from "../helpers/duet.js";
import { at } from "../helpers/kit.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { client, eventsOf, expectError, names, openStream, waitFor } from "./util.js";

let server: TestServer;
let base: string;

before(async () => {
  // The send rate limit has its own test (ops.test.ts); here it would only get in the way.
  server = await startDuet({ DUET_SEND_RATE: "100000", DUET_SEND_BURST: "100000" });
  base = server.url;
});
after(async () => {
  await server.close();
});

/** Waits until the clock has moved past `ts`, so the next message gets a later timestamp. */
async function tick(ts: number): Promise<void> {
  await waitFor("the clock to move", () => Date.now() > ts);
}

describe("POST /v1/messages", () => {
  it("stores a text message and answers 201 with the message of SPEC section 3", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const before = Date.now();
    const r = await alice.call("POST", "/v1/messages", { to: b, text: "hi" });
    assert.equal(r.status, 201);
    const m = r.body.message as Message;
    assert.deepEqual(Object.keys(m).sort(), [
      "clientMsgId",
      "from",
      "id",
      "image",
      "kind",
      "links",
      "text",
      "to",
      "ts",
    ]);
    assert.match(m.id, /^[0-9A-Z]{26}$/);
    assert.equal(m.from, a);
    assert.equal(m.to, b);
    assert.equal(m.kind, "text");
    assert.equal(m.text, "hi");
    assert.equal(m.image, null);
    assert.deepEqual(m.links, []);
    assert.equal(m.clientMsgId, null);
    assert.ok(m.ts >= before - 1000 && m.ts <= Date.now() + 1000);
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
  });

  it("is idempotent by clientMsgId: a repeat answers 200 with the original and stores nothing", async () => {
    const [a, b, c] = names("alice", "bob", "carol");
    const alice = await client(base, a);
    const carol = await client(base, c);
    const first = await alice.call("POST", "/v1/messages", { to: b, text: "once", clientMsgId: "m-1" });
    assert.equal(first.status, 201);
    const again = await alice.call("POST", "/v1/messages", { to: b, text: "once", clientMsgId: "m-1" });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.message, first.body.message);
    // Even with other content, the same clientMsgId from the same sender is the same message.
    const changed = await alice.call("POST", "/v1/messages", { to: b, text: "twice", clientMsgId: "m-1" });
    assert.equal(changed.status, 200);
    assert.deepEqual(changed.body.message, first.body.message);
    const history = await alice.call("GET", `/v1/conversations/${b}/messages`);
    assert.equal((history.body.messages as Message[]).length, 1);
    // Another sender's clientMsgId space is its own.
    const other = await carol.call("POST", "/v1/messages", { to: b, text: "mine", clientMsgId: "m-1" });
    assert.equal(other.status, 201);
    assert.notEqual((other.body.message as Message).id, (first.body.message as Message).id);
    // A repeat adds no events to either log.
    const bob = await client(base, b);
    const events = await eventsOf(base, bob.token);
    assert.equal(events.length, 2);
  });

  it("stores one message for concurrent sends with the same clientMsgId", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        alice.call("POST", "/v1/messages", { to: b, text: "race", clientMsgId: "r" }),
      ),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const ids = new Set(results.map((r) => (r.body.message as Message).id));
    assert.equal(ids.size, 1);
    const history = await alice.call("GET", `/v1/conversations/${b}/messages`);
    assert.equal((history.body.messages as Message[]).length, 1);
  });

  it("returns text exactly as sent, whatever Unicode it holds", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const text = 'emoji 👩‍👩‍👧 rtl \u202eabc\u202c tab\t newline\n quote" backslash\\ </script> é e\u0301';
    const sent = await alice.send(b, text, { clientMsgId: "ünïcode-✓" });
    assert.equal(sent.text, text);
    assert.equal(sent.clientMsgId, "ünïcode-✓");
    const got = (await bob.call("GET", `/v1/conversations/${a}/messages`)).body.messages as Message[];
    assert.equal(at(got, 0).text, text);
    const [event] = await eventsOf(base, bob.token);
    assert.equal((event?.message as Message | undefined)?.text, text);
  });

  it("refuses with 403 blocked when the recipient blocked the sender", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    assert.equal((await bob.call("PUT", `/v1/blocks/${a}`)).status, 200);
    expectError(await alice.call("POST", "/v1/messages", { to: b, text: "hello?" }), 403, "blocked");
    const history = await bob.call("GET", `/v1/conversations/${a}/messages`);
    assert.deepEqual(history.body.messages, []);
    assert.equal((await bob.call("DELETE", `/v1/blocks/${a}`)).status, 200);
    assert.equal((await alice.call("POST", "/v1/messages", { to: b, text: "hello" })).status, 201);
  });

  it("refuses a message to oneself with 400", async () => {
    const [a] = names("alice");
    const alice = await client(base, a);
    expectError(await alice.call("POST", "/v1/messages", { to: a, text: "me" }), 400, "self_message");
  });

  it("stores an image with or without a caption", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const image = { url: "https://cdn.example.com/p/1.jpg", width: 640, height: 480 };
    const captioned = await alice.send(b, "look", { image });
    assert.equal(captioned.kind, "image");
    assert.deepEqual(captioned.image, image);
    assert.equal(captioned.text, "look");
    const bare = await alice.call("POST", "/v1/messages", {
      to: b,
      image: { url: "http://x.example/2.png" },
    });
    assert.equal(bare.status, 201);
    const m = bare.body.message as Message;
    assert.equal(m.kind, "image");
    assert.equal(m.text, null);
    assert.deepEqual(m.image, { url: "http://x.example/2.png" });
    for (const bad of [
      { url: "javascript:alert(1)" },
      { url: "ftp://x.example/a.png" },
      { url: `https://x.example/${"a".repeat(2048)}` },
      { url: "https://x.example/a.png", width: -1 },
      { url: "https://x.example/a.png", width: 1.5 },
      { url: "https://x.example/a.png", height: "480" },
      { url: "https://x.example/a.png", alt: "no such field" },
      "https://x.example/a.png",
    ]) {
      expectError(await alice.call("POST", "/v1/messages", { to: b, image: bad }), 400, "invalid_input");
    }
  });

  it("stores up to 4 links of http(s) URLs", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const links = [
      { url: "https://a.example/", title: "A" },
      { url: "http://b.example/x?y=1" },
      { url: "https://c.example/" },
      { url: `https://d.example/${"d".repeat(2000)}`, title: "D" },
    ];
    const m = await alice.send(b, "see", { links });
    assert.deepEqual(m.links, links);
    const url = "https://e.example/";
    for (const bad of [
      [...links, { url }],
      [{ url: "data:text/html,hi" }],
      [{ url: `https://e.example/${"e".repeat(2040)}` }],
      [{ title: "no url" }],
      [{ url, title: "t".repeat(301) }],
      [{ url, extra: 1 }],
      [url],
      { url },
    ]) {
      expectError(
        await alice.call("POST", "/v1/messages", { to: b, text: "x", links: bad }),
        400,
        "invalid_input",
      );
    }
  });

  it("takes text of 1-4000 characters by default", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    assert.equal((await alice.send(b, "x".repeat(4000))).text?.length, 4000);
    for (const text of ["", "x".repeat(4001), 42, ["hi"], { t: "hi" }, true]) {
      expectError(await alice.call("POST", "/v1/messages", { to: b, text }), 400, "invalid_input");
    }
    // A text message needs text.
    expectError(await alice.call("POST", "/v1/messages", { to: b }), 400, "invalid_input");
    expectError(await alice.call("POST", "/v1/messages", { to: b, text: null }), 400, "invalid_input");
  });

  it("honours DUET_MAX_TEXT_LENGTH", async () => {
    const small = await startDuet({ DUET_MAX_TEXT_LENGTH: "10" });
    try {
      const [a, b] = names("alice", "bob");
      const alice = await client(small.url, a);
      assert.equal((await alice.send(b, "0123456789")).text, "0123456789");
      const r = await alice.call("POST", "/v1/messages", { to: b, text: "0123456789a" });
      expectError(r, 400, "invalid_input");
      assert.match((r.body.error as { message: string }).message, /10/);
    } finally {
      await small.close();
    }
  });

  it("validates to and clientMsgId", async () => {
    const [a] = names("alice");
    const alice = await client(base, a);
    for (const body of [
      { text: "no recipient" },
      { to: "", text: "x" },
      { to: "a".repeat(65), text: "x" },
      { to: "bob smith", text: "x" },
      { to: 7, text: "x" },
      { to: "bob", text: "x", clientMsgId: "c".repeat(65) },
      { to: "bob", text: "x", clientMsgId: "" },
      { to: "bob", text: "x", clientMsgId: 5 },
    ]) {
      expectError(await alice.call("POST", "/v1/messages", body), 400, "invalid_input");
    }
    // The longest valid user id and clientMsgId are accepted.
    const r = await alice.call("POST", "/v1/messages", {
      to: `b${"_".repeat(63)}`,
      text: "x",
      clientMsgId: "c".repeat(64),
    });
    assert.equal(r.status, 201);
  });
});

describe("GET /v1/conversations", () => {
  it("lists conversations by latest activity with unread counts and the last message", async () => {
    const [a, b, c, d] = names("alice", "bob", "carol", "dave");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const carol = await client(base, c);
    const dave = await client(base, d);
    await tick((await bob.send(a, "b1")).ts);
    await tick((await bob.send(a, "b2")).ts);
    await tick((await carol.send(a, "c1")).ts);
    await tick((await alice.send(d, "to dave")).ts);
    const lastFromBob = await bob.send(a, "b3");

    const r = await alice.call("GET", "/v1/conversations");
    assert.equal(r.status, 200);
    const list = r.body.conversations as ConversationSummary[];
    assert.deepEqual(
      list.map((x) => [x.peer, x.unread, x.lastMessage?.text]),
      [
        [b, 3, "b3"],
        [d, 0, "to dave"],
        [c, 1, "c1"],
      ],
    );
    assert.deepEqual(at(list, 0).lastMessage, lastFromBob);
    assert.equal(at(list, 0).updatedAt, lastFromBob.ts);
    // Each side has its own view.
    const forDave = (await dave.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[];
    assert.deepEqual(
      forDave.map((x) => [x.peer, x.unread]),
      [[a, 1]],
    );
    const forBob = (await bob.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[];
    assert.deepEqual(
      forBob.map((x) => [x.peer, x.unread]),
      [[a, 0]],
    );

    // limit and before page through the list.
    const page1 = (await alice.call("GET", "/v1/conversations?limit=2")).body
      .conversations as ConversationSummary[];
    assert.deepEqual(
      page1.map((x) => x.peer),
      [b, d],
    );
    const page2 = (await alice.call("GET", `/v1/conversations?limit=2&before=${at(page1, 1).updatedAt}`)).body
      .conversations as ConversationSummary[];
    assert.deepEqual(
      page2.map((x) => x.peer),
      [c],
    );
    const none = (await alice.call("GET", `/v1/conversations?before=${at(page2, 0).updatedAt}`)).body
      .conversations as ConversationSummary[];
    assert.deepEqual(none, []);

    // Reading lowers the unread count; it does not reorder.
    assert.equal(
      (await alice.call("POST", `/v1/conversations/${b}/read`, { upTo: lastFromBob.id })).status,
      200,
    );
    const afterRead = (await alice.call("GET", "/v1/conversations")).body
      .conversations as ConversationSummary[];
    assert.deepEqual(
      afterRead.map((x) => [x.peer, x.unread]),
      [
        [b, 0],
        [d, 0],
        [c, 1],
      ],
    );
  });

  it("is empty for a new user and validates its query", async () => {
    const [a] = names("alice");
    const alice = await client(base, a);
    assert.deepEqual((await alice.call("GET", "/v1/conversations")).body, { conversations: [] });
    for (const q of ["limit=0", "limit=-1", "limit=abc", "limit=1.5", "before=-5", "before=yesterday"]) {
      expectError(await alice.call("GET", `/v1/conversations?${q}`), 400, "invalid_input");
    }
  });
});

describe("GET /v1/conversations/:peer/messages", () => {
  let alice: Awaited<ReturnType<typeof client>>;
  let bobName: string;
  let all: Message[];

  before(async () => {
    const [a, b] = names("alice", "bob");
    alice = await client(base, a);
    const bob = await client(base, b);
    bobName = b;
    // 230 messages from both sides, sent at once; their ids give the conversation's order.
    all = await Promise.all(
      Array.from({ length: 230 }, (_, i) => (i % 2 === 0 ? alice.send(b, `m${i}`) : bob.send(a, `m${i}`))),
    );
    all.sort((x, y) => (x.id < y.id ? -1 : 1));
  });

  const page = async (query: string) => {
    const r = await alice.call("GET", `/v1/conversations/${bobName}/messages${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const messages = r.body.messages as Message[];
    return { texts: messages.map((m) => m.text), messages, hasMore: r.body.hasMore as boolean };
  };
  const texts = (from: number, to: number) => all.slice(from, to).map((m) => m.text);

  it("returns the newest 50, oldest first, by default", async () => {
    const p = await page("");
    assert.deepEqual(p.texts, texts(180, 230));
    assert.equal(p.hasMore, true);
    // Ids are unique, and the conversation's order is also the order of the timestamps.
    assert.equal(new Set(all.map((m) => m.id)).size, 230);
    for (let i = 1; i < all.length; i++) assert.ok(at(all, i - 1).ts <= at(all, i).ts);
  });

  it("pages back with before", async () => {
    const p = await page(`?before=${at(all, 180).id}&limit=100`);
    assert.deepEqual(p.texts, texts(80, 180));
    assert.equal(p.hasMore, true);
    const first = await page(`?before=${at(all, 80).id}&limit=100`);
    assert.deepEqual(first.texts, texts(0, 80));
    assert.equal(first.hasMore, false);
  });

  it("pages forward with after", async () => {
    const p = await page(`?after=${at(all, 9).id}&limit=20`);
    assert.deepEqual(p.texts, texts(10, 30));
    assert.equal(p.hasMore, true);
    const last = await page(`?after=${at(all, 219).id}&limit=20`);
    assert.deepEqual(last.texts, texts(220, 230));
    assert.equal(last.hasMore, false);
  });

  it("takes before and after together", async () => {
    const p = await page(`?after=${at(all, 10).id}&before=${at(all, 20).id}`);
    assert.deepEqual(p.texts, texts(11, 20));
    assert.equal(p.hasMore, false);
  });

  it("answers at most 200 a page", async () => {
    const p = await page("?limit=500");
    assert.deepEqual(p.texts, texts(30, 230));
    assert.equal(p.hasMore, true);
    const exact = await page(`?after=${at(all, 29).id}&limit=200`);
    assert.equal(exact.texts.length, 200);
    assert.equal(exact.hasMore, false);
  });

  it("is the same conversation seen from either side", async () => {
    const bob = await client(base, bobName);
    const r = await bob.call("GET", `/v1/conversations/${alice.name}/messages?limit=200`);
    const fromAlice = await page("?limit=200");
    assert.deepEqual(r.body.messages, fromAlice.messages);
  });

  it("is empty for a peer never talked to, and refuses bad ids", async () => {
    const [x] = names("stranger");
    const r = await alice.call("GET", `/v1/conversations/${x}/messages`);
    assert.deepEqual(r.body, { messages: [], hasMore: false });
    for (const q of ["?before=nope", "?after=", "?after=01ARZ3NDEKTSV4RRFFQ69G5FA", "?limit=0", "?limit=x"]) {
      expectError(await alice.call("GET", `/v1/conversations/${bobName}/messages${q}`), 400, "invalid_input");
    }
    expectError(await alice.call("GET", "/v1/conversations/bad%20peer/messages"), 400, "invalid_input");
  });
});

describe("GET /v1/conversations/:peer/unread", () => {
  it("returns the oldest unread from the peer and marks exactly those read", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const sent: Message[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push(await bob.send(a, `u${i}`));
      await alice.send(b, `reply${i}`); // her own messages are never "unread" for her
    }
    const unreadCount = async () =>
      ((await alice.call("GET", "/v1/conversations")).body.conversations as ConversationSummary[])[0]?.unread;
    assert.equal(await unreadCount(), 5);

    const first = await alice.call("GET", `/v1/conversations/${b}/unread?limit=2`);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.messages, sent.slice(0, 2));
    assert.equal(await unreadCount(), 3);

    // markRead=false returns the next ones and marks none, however often it is asked.
    for (let i = 0; i < 2; i++) {
      const peek = await alice.call("GET", `/v1/conversations/${b}/unread?limit=2&markRead=false`);
      assert.deepEqual(peek.body.messages, sent.slice(2, 4));
      assert.equal(await unreadCount(), 3);
    }

    // The default limit (20) takes the rest.
    const rest = await alice.call("GET", `/v1/conversations/${b}/unread`);
    assert.deepEqual(rest.body.messages, sent.slice(2));
    assert.equal(await unreadCount(), 0);
    assert.deepEqual((await alice.call("GET", `/v1/conversations/${b}/unread`)).body, { messages: [] });

    // Bob's log got read events for alice's reads, up to the last message each read returned.
    const reads = (await eventsOf(base, bob.token)).filter((e) => e.type === "read");
    assert.deepEqual(
      reads.map((e) => [e.peer, e.reader, e.upTo]),
      [
        [a, a, at(sent, 1).id],
        [a, a, at(sent, 4).id],
      ],
    );
    // Nothing was deleted.
    const history = await alice.call("GET", `/v1/conversations/${b}/messages`);
    assert.equal((history.body.messages as Message[]).length, 10);
  });

  it("validates limit and markRead", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    for (const q of ["limit=0", "limit=-2", "limit=ten", "markRead=yes", "markRead=1"]) {
      expectError(await alice.call("GET", `/v1/conversations/${b}/unread?${q}`), 400, "invalid_input");
    }
    assert.equal((await alice.call("GET", `/v1/conversations/${b}/unread?limit=100000`)).status, 200);
  });
});

describe("POST /v1/conversations/:peer/read", () => {
  it("marks every message from the peer up to upTo read and tells the peer", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const m1 = await bob.send(a, "1");
    const m2 = await bob.send(a, "2");
    const mine = await alice.send(b, "mine");
    const m3 = await bob.send(a, "3");
    const bobStream = await openStream(base, bob.token);
    try {
      await bobStream.next((e) => e.type === "hello");
      const r = await alice.call("POST", `/v1/conversations/${b}/read`, { upTo: m2.id });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { upTo: m2.id });
      const event = await bobStream.next((e) => e.type === "read");
      assert.equal(event.peer, a);
      assert.equal(event.reader, a);
      assert.equal(event.upTo, m2.id);
      assert.equal(typeof event.seq, "number");
    } finally {
      bobStream.close();
    }
    const unread = await alice.call("GET", `/v1/conversations/${b}/unread?markRead=false`);
    assert.deepEqual(unread.body.messages, [m3]);

    // The marker never moves back.
    const back = await alice.call("POST", `/v1/conversations/${b}/read`, { upTo: m1.id });
    assert.equal(back.status, 200);
    assert.deepEqual(back.body, { upTo: m2.id });
    // upTo may name her own message: it covers the peer's messages before it.
    const own = await alice.call("POST", `/v1/conversations/${b}/read`, { upTo: mine.id });
    assert.deepEqual(own.body, { upTo: m2.id });
    // Her other devices see her read as well.
    const aliceReads = (await eventsOf(base, alice.token)).filter((e) => e.type === "read");
    assert.deepEqual(
      aliceReads.map((e) => [e.peer, e.reader, e.upTo]),
      [[b, a, m2.id]],
    );
  });

  it("answers upTo null when nothing from the peer is covered", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const mine = await alice.send(b, "first");
    const r = await alice.call("POST", `/v1/conversations/${b}/read`, { upTo: mine.id });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { upTo: null });
  });

  it("validates the body", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const m = await alice.send(b, "x");
    for (const body of [{}, { upTo: "short" }, { upTo: 5 }, { upTo: m.id, extra: true }, [m.id], "x"]) {
      expectError(await alice.call("POST", `/v1/conversations/${b}/read`, body), 400);
    }
  });
});

describe("POST /v1/typing", () => {
  it("sends a typing event to the peer's open connections, stored nowhere", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const stream = await openStream(base, bob.token);
    try {
      await stream.next((e) => e.type === "hello");
      const r = await alice.call("POST", "/v1/typing", { to: b });
      assert.equal(r.status, 200);
      assert.deepEqual(await stream.next(), { type: "typing", from: a });
    } finally {
      stream.close();
    }
    assert.deepEqual(await eventsOf(base, bob.token), []);
  });

  it("refuses typing to oneself, to a blocker, and bad bodies", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    expectError(await alice.call("POST", "/v1/typing", { to: a }), 400);
    for (const body of [{}, { to: 5 }, { to: b, from: a }, [b]]) {
      expectError(await alice.call("POST", "/v1/typing", body), 400, "invalid_input");
    }
    await bob.call("PUT", `/v1/blocks/${a}`);
    expectError(await alice.call("POST", "/v1/typing", { to: b }), 403, "blocked");
  });
});

describe("blocks", () => {
  it("lists, adds and removes blocks; a blocked user cannot send, type or see presence", async () => {
    const [a, b, c] = names("alice", "bob", "carol");
    const alice = await client(base, a);
    const bob = await client(base, b);
    assert.deepEqual((await bob.call("GET", "/v1/blocks")).body, { blocks: [] });
    assert.deepEqual((await bob.call("PUT", `/v1/blocks/${c}`)).body, { blocks: [c] });
    assert.deepEqual((await bob.call("PUT", `/v1/blocks/${a}`)).body, { blocks: [a, c].sort() });
    // Blocking twice is harmless.
    assert.deepEqual((await bob.call("PUT", `/v1/blocks/${a}`)).body, { blocks: [a, c].sort() });
    assert.deepEqual((await bob.call("GET", "/v1/blocks")).body, { blocks: [a, c].sort() });
    // Alice's own list is her own.
    assert.deepEqual((await alice.call("GET", "/v1/blocks")).body, { blocks: [] });

    const stream = await openStream(base, bob.token); // bob is online
    try {
      await stream.next((e) => e.type === "hello");
      expectError(await alice.call("POST", "/v1/messages", { to: b, text: "hi" }), 403, "blocked");
      expectError(await alice.call("POST", "/v1/typing", { to: b }), 403, "blocked");
      const seen = await alice.call("GET", `/v1/presence?users=${b}`);
      assert.deepEqual(seen.body, { presence: { [b]: { online: false } } });
      // Someone bob did not block sees him online.
      const [d] = names("dave");
      const dave = await client(base, d);
      assert.deepEqual((await dave.call("GET", `/v1/presence?users=${b}`)).body, {
        presence: { [b]: { online: true } },
      });
      // Bob still reaches alice.
      assert.equal((await bob.call("POST", "/v1/messages", { to: a, text: "bye" })).status, 201);

      assert.deepEqual((await bob.call("DELETE", `/v1/blocks/${a}`)).body, { blocks: [c] });
      assert.deepEqual((await bob.call("DELETE", `/v1/blocks/${a}`)).body, { blocks: [c] });
      assert.equal((await alice.call("POST", "/v1/messages", { to: b, text: "hi again" })).status, 201);
      assert.equal((await alice.call("POST", "/v1/typing", { to: b })).status, 200);
      assert.deepEqual((await alice.call("GET", `/v1/presence?users=${b}`)).body, {
        presence: { [b]: { online: true } },
      });
    } finally {
      stream.close();
    }
  });

  it("refuses blocking oneself and bad ids", async () => {
    const [a] = names("alice");
    const alice = await client(base, a);
    expectError(await alice.call("PUT", `/v1/blocks/${a}`), 400, "invalid_input");
    expectError(await alice.call("PUT", "/v1/blocks/bad%20id"), 400, "invalid_input");
    expectError(await alice.call("DELETE", `/v1/blocks/${"x".repeat(65)}`), 400, "invalid_input");
    expectError(await alice.call("POST", "/v1/blocks/bob"), 405, "method_not_allowed");
  });
});

describe("GET /v1/presence", () => {
  it("shows who is online, and lastSeen once they leave", async () => {
    const [a, b, c] = names("alice", "bob", "carol");
    const alice = await client(base, a);
    const bob = await client(base, b);
    const stream = await openStream(base, bob.token);
    await stream.next((e) => e.type === "hello");
    const online = await alice.call("GET", `/v1/presence?users=${b},${c}`);
    assert.equal(online.status, 200);
    assert.deepEqual(online.body, { presence: { [b]: { online: true }, [c]: { online: false } } });
    const closedAt = Date.now();
    stream.close();
    const offline = await waitFor("bob to go offline", async () => {
      const r = await alice.call("GET", `/v1/presence?users=${b}`);
      const p = (r.body.presence as Record<string, { online: boolean; lastSeen?: number }>)[b];
      return p === undefined || p.online ? undefined : p;
    });
    assert.equal(typeof offline.lastSeen, "number");
    assert.ok(offline.lastSeen! >= closedAt - 1000 && offline.lastSeen! <= Date.now() + 1000);
  });

  it("counts a user who polls as online", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(base, a);
    const bob = await client(base, b);
    assert.deepEqual((await alice.call("GET", `/v1/presence?users=${b}`)).body, {
      presence: { [b]: { online: false } },
    });
    assert.equal((await bob.call("GET", "/v1/poll?timeout=0")).status, 200);
    assert.deepEqual((await alice.call("GET", `/v1/presence?users=${b}`)).body, {
      presence: { [b]: { online: true } },
    });
  });

  it("validates users", async () => {
    const [a] = names("alice");
    const alice = await client(base, a);
    const many = Array.from({ length: 101 }, (_, i) => `u${i}`).join(",");
    for (const q of ["", "?users=", "?users=,", `?users=${many}`, "?users=ok,bad%20id", "?users=a/b"]) {
      expectError(await alice.call("GET", `/v1/presence${q}`), 400, "invalid_input");
    }
    const hundred = Array.from({ length: 100 }, (_, i) => `u${i}`).join(",");
    const r = await alice.call("GET", `/v1/presence?users=${hundred}`);
    assert.equal(r.status, 200);
    assert.equal(Object.keys(r.body.presence as object).length, 100);
  });
});

describe("every user endpoint needs a token", () => {
  it("answers 401 without one", async () => {
    for (const [method, path] of [
      ["POST", "/v1/messages"],
      ["GET", "/v1/conversations"],
      ["GET", "/v1/conversations/bob/messages"],
      ["GET", "/v1/conversations/bob/unread"],
      ["POST", "/v1/conversations/bob/read"],
      ["POST", "/v1/typing"],
      ["GET", "/v1/blocks"],
      ["PUT", "/v1/blocks/bob"],
      ["DELETE", "/v1/blocks/bob"],
      ["GET", "/v1/presence?users=bob"],
      ["GET", "/v1/poll?timeout=0"],
      ["GET", "/v1/events"],
      ["GET", "/v1/stream"],
    ] as const) {
      const r = await fetch(base + path, { method });
      const body = (await r.json()) as Record<string, unknown>;
      expectError({ status: r.status, body }, 401, "unauthorized");
    }
  });
});
