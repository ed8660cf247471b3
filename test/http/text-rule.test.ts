/**
 * SPEC section 3's text rule, on every way in (HTTP send, image caption, system message,
 * WebSocket send frame): 1-max characters (configurable), at least one not whitespace, no control
 * characters but tab, LF and CR. Anything else is a 400 `invalid_input` naming the field, and
 * nothing is stored.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Message } from "../../src/core/types.js";
import { WsClient } from "../helpers/clients.js";
import { API_KEY, api, startDuet, type TestServer } from "../helpers/duet.js";
import { type Client, client, expectError, names } from "./util.js";

let server: TestServer;
let small: TestServer;

before(async () => {
  [server, small] = await Promise.all([startDuet(), startDuet({ DUET_MAX_TEXT_LENGTH: "10" })]);
});
after(async () => {
  await Promise.all([server.close(), small.close()]);
});

const HOSTILE: [string, string][] = [
  ["NUL and BEL inside", "a\u0000b\u0007c"],
  ["only spaces", "   "],
  ["only tabs and newlines", "\t\n\r\n"],
  ["empty", ""],
  ["only Unicode whitespace", "\u00a0\u2003\u3000"],
  ["a lone NUL", "\u0000"],
  ["ESC (terminal escapes)", "hi \u001b[31mred"],
  ["DEL", "x\u007f"],
  ["a C1 control (NEL)", "x\u0085y"],
  ["a C1 control (CSI)", "\u009b2J"],
  ["form feed", "a\fb"],
  ["vertical tab", "a\vb"],
  ["a lone high surrogate", "x\ud800"],
  ["a lone low surrogate", "\udc00x"],
  ["4000 spaces then NUL", `${" ".repeat(4000)}\u0000`],
  ["4001 characters", "x".repeat(4001)],
];

const FINE: [string, string][] = [
  ["tab, LF and CR around text", "\ta\r\nb\n"],
  ["one character", "x"],
  ["exactly 4000", "y".repeat(4000)],
  ["emoji and combining marks", "👩‍👩‍👧 e\u0301"],
  ["leading Unicode whitespace before text", "\u3000hello"],
  ["right-to-left override (not a control character)", "\u202eabc\u202c"],
];

async function historyOf(me: Client, peer: string): Promise<Message[]> {
  const r = await me.call("GET", `/v1/conversations/${peer}/messages`);
  assert.equal(r.status, 200);
  return r.body.messages as Message[];
}

describe("text rule", () => {
  it("POST /v1/messages refuses each hostile text with 400 invalid_input naming body.text, storing nothing", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    for (const [what, text] of HOSTILE) {
      const r = await alice.call("POST", "/v1/messages", { to: b, text });
      expectError(r, 400, "invalid_input");
      assert.match((r.body.error as { message: string }).message, /^body\.text /, what);
    }
    assert.deepEqual(await historyOf(alice, b), []);
  });

  it("accepts tab, LF, CR, emoji and exactly the limit, and returns them as sent", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    for (const [what, text] of FINE) {
      const sent = await alice.send(b, text);
      assert.equal(sent.text, text, what);
    }
    assert.deepEqual(
      (await historyOf(alice, b)).map((m) => m.text),
      FINE.map(([, text]) => text),
    );
  });

  it("applies to an image's caption", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const image = { url: "https://img.example/a.png" };
    expectError(
      await alice.call("POST", "/v1/messages", { to: b, image, text: "cap\u0000tion" }),
      400,
      "invalid_input",
    );
    expectError(await alice.call("POST", "/v1/messages", { to: b, image, text: "  " }), 400, "invalid_input");
    const ok = await alice.call("POST", "/v1/messages", { to: b, image, text: "caption" });
    assert.equal(ok.status, 201);
    assert.equal((await historyOf(alice, b)).length, 1);
  });

  it("applies to system messages from the server API", async () => {
    const [b] = names("bob");
    for (const text of ["sys\u0007tem", " \n ", "\u0000"]) {
      const r = await api(server.url, API_KEY, "POST", "/v1/admin/messages", { to: b, text });
      expectError(r, 400, "invalid_input");
      assert.match((r.body.error as { message: string }).message, /^body\.text /);
    }
  });

  it("applies to the WebSocket send frame: an error frame naming frame.text, the connection stays", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(server.url, a);
    const ws = new WsClient(server.url, alice.token);
    try {
      await ws.ready();
      for (const [what, text] of HOSTILE) {
        const answer = await ws.request({ op: "send", to: b, text });
        assert.equal(answer.op, "error", what);
        const error = answer.error as { code: string; message: string };
        assert.equal(error.code, "invalid_input");
        assert.match(error.message, /^frame\.text /, what);
      }
      const ok = await ws.request({ op: "send", to: b, text: "fine\tnow" });
      assert.equal(ok.op, "result");
      assert.equal((await historyOf(alice, b)).length, 1);
    } finally {
      await ws.close();
    }
  });

  it("follows the configured limit (DUET_MAX_TEXT_LENGTH) and says it", async () => {
    const [a, b] = names("alice", "bob");
    const alice = await client(small.url, a);
    assert.equal((await alice.call("POST", "/v1/messages", { to: b, text: "x".repeat(10) })).status, 201);
    const r = await alice.call("POST", "/v1/messages", { to: b, text: "x".repeat(11) });
    expectError(r, 400, "invalid_input");
    assert.match((r.body.error as { message: string }).message, /1-10 characters/);
    // The server's own document states its limit.
    const doc = await api(small.url, null, "GET", "/v1/openapi.json");
    const schemas = (
      doc.body.components as { schemas: Record<string, { properties: Record<string, unknown> }> }
    ).schemas;
    assert.match(JSON.stringify(schemas.SendBody?.properties.text), /"maxLength":10\b/);
  });
});
