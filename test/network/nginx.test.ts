/**
 * duet behind a real nginx with its defaults (proxy_buffering on, proxy_read_timeout 60s) and the
 * documented snippet (docs/nginx/*.conf, included as they are): streams deliver at once, long-polls
 * end before nginx gives up on them, WebSockets upgrade.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { api, startDuet, type TestServer, tokenFor } from "../helpers/duet.js";
import { sleep } from "../helpers/kit.js";
import { type Nginx, SNIPPET_DIR, startNginx } from "./nginx-server.js";
import { StreamReader, until, type WireEvent, WsReader } from "./wire.js";

/** Far longer than any wait below: an event that only shows up with a keep-alive never shows. */
const STREAM_PING_MS = 600_000;
const PROMPTLY = 30_000;

describe("behind nginx (defaults: proxy_buffering on, proxy_read_timeout 60s)", () => {
  let duet: TestServer;
  let nginx: Nginx;
  /** A bare `location / { proxy_pass http://duet; }`: every nginx default, HTTP/1.0 upstream too. */
  let bare: string;
  /** The bare setup told to ignore X-Accel-Buffering: what nginx does to a stream without it. */
  let control: string;
  const open: { close(): void }[] = [];

  before(async () => {
    duet = await startDuet({ DUET_STREAM_PING_MS: String(STREAM_PING_MS) });
    nginx = await startNginx(duet.port, [
      (port) => `    server { listen 127.0.0.1:${port}; location / { proxy_pass http://duet; } }`,
      (port) => `    server {
        listen 127.0.0.1:${port};
        location / { proxy_pass http://duet; proxy_ignore_headers X-Accel-Buffering; }
    }`,
    ]);
    bare = `http://127.0.0.1:${nginx.extraPorts[0]}`;
    control = `http://127.0.0.1:${nginx.extraPorts[1]}`;
  });
  after(async () => {
    for (const o of open) o.close();
    await nginx?.stop();
    await duet?.close();
  });

  const send = async (from: string, to: string, text: string) => {
    const res = await api(nginx.url, await tokenFor(from), "POST", "/v1/messages", { to, text });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.message as { id: string };
  };

  const isMessage = (id: string) => (e: WireEvent) =>
    e.type === "message" && (e.message as { id: string }).id === id;

  for (const [name, path] of [
    ["SSE", "/v1/events"],
    ["NDJSON streaming", "/v1/stream"],
  ] as const) {
    for (const setup of ["the documented snippet", "a bare proxy_pass"] as const) {
      test(`${name} through ${setup} delivers each event at once, not at the next keep-alive`, async () => {
        const base = setup === "a bare proxy_pass" ? bare : nginx.url;
        const user = `${path.slice(4)}-${setup.length}-reader`;
        const stream = await StreamReader.open(base + path, await tokenFor(user));
        open.push(stream);
        assert.equal(stream.status, 200);
        assert.equal(stream.headers?.get("x-accel-buffering"), null, "nginx consumes the header");
        await stream.next((e) => e.type === "hello", PROMPTLY, "hello through nginx");
        for (const text of ["one", "two"]) {
          const sent = await send("writer", user, text);
          const event = await stream.next(
            isMessage(sent.id),
            PROMPTLY,
            `"${text}" through nginx before the ${STREAM_PING_MS} ms keep-alive`,
          );
          assert.equal((event.message as { text: string }).text, text);
        }
        // Nothing but events came: no keep-alive was needed to push them out.
        assert.ok(!stream.lines.some((l) => l.startsWith(": ping") || l.includes('"ping"')));
        stream.close();
      });
    }

    test(`control: ${name} through nginx ignoring X-Accel-Buffering is held back`, async () => {
      // What the header prevents (and so what the tests above would catch without it).
      const user = `${path.slice(4)}-held-reader`;
      const held = StreamReader.start(control + path, await tokenFor(user));
      const direct = await StreamReader.open(duet.url + path, await tokenFor(user));
      open.push(held, direct);
      await until(
        () => duet.chat.hub.connectionsByTransport()[path === "/v1/events" ? "sse" : "stream"] >= 2,
        PROMPTLY,
        "both streams at duet",
      );
      const sent = await send("writer", user, "held back");
      await direct.next(isMessage(sent.id), PROMPTLY, "message direct");
      // The direct stream has it; give nginx a second more, then look.
      await sleep(1_000);
      assert.ok(!held.events.some(isMessage(sent.id)), "nginx passed the event although it buffers");
      held.close();
      direct.close();
    });
  }

  test("long-polls are answered by duet before nginx's 60 s read timeout", async () => {
    const token = await tokenFor("poller");
    const first = await api(nginx.url, token, "GET", "/v1/poll?timeout=0");
    assert.equal(first.status, 200);
    const { seq, epoch } = first.body as { seq: number; epoch: string };
    const poll = (timeout: number) =>
      api(nginx.url, token, "GET", `/v1/poll?since=${seq}&epoch=${epoch}&timeout=${timeout}`);
    // Nothing arrives: duet answers empty at 25 s, and a client asking 600 s gets duet's default
    // cap (DUET_MAX_POLL_SECONDS, 50 s) rather than nginx's 504 at 60 s. Both run side by side.
    const [asked25, asked600] = await Promise.all([poll(25), poll(600)]);
    for (const answer of [asked25, asked600]) {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.body.events, []);
      assert.equal(answer.body.seq, seq);
    }
    // An event answers a held poll at once.
    const held = poll(25);
    await until(() => duet.chat.hub.connectionsByTransport().poll === 1, PROMPTLY, "the poll held at duet");
    const sent = await send("writer", "poller", "for the poller");
    const answer = await held;
    assert.equal(answer.status, 200);
    const events = answer.body.events as { type: string; message?: { id: string } }[];
    assert.ok(events.some((e) => e.type === "message" && e.message?.id === sent.id));
  });

  test("WebSockets upgrade through nginx and carry ops and events both ways", async () => {
    const alice = await WsReader.open(`${nginx.url}/v1/ws`, await tokenFor("ws-alice"));
    const bob = await WsReader.open(`${nginx.url}/v1/ws`, await tokenFor("ws-bob"));
    open.push(alice, bob);
    await alice.next((f) => f.op === "hello", PROMPTLY, "alice hello");
    await bob.next((f) => f.op === "hello", PROMPTLY, "bob hello");
    alice.send({ op: "send", ref: "1", to: "ws-bob", text: "over nginx" });
    const result = await alice.next((f) => f.op === "result" && f.ref === "1", PROMPTLY, "send result");
    const id = (result.message as { id: string }).id;
    const event = await bob.next(
      (f) => f.op === "event" && f.type === "message" && (f.message as { id: string }).id === id,
      PROMPTLY,
      "bob gets the message",
    );
    assert.equal((event.message as { text: string }).text, "over nginx");
    assert.equal(duet.chat.hub.connectionsByTransport().ws, 2);
    alice.close();
    bob.close();
  });

  test("docs/NGINX.md shows the tested snippet files exactly", () => {
    const doc = readFileSync(new URL("../../docs/NGINX.md", import.meta.url), "utf8");
    for (const file of ["duet-http.conf", "duet-location.conf"]) {
      const text = readFileSync(`${SNIPPET_DIR}${file}`, "utf8");
      assert.ok(doc.includes(text), `docs/NGINX.md does not show docs/nginx/${file} as it is`);
    }
  });
});
