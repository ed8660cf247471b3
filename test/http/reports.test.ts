/** SPEC 12 reports on a real server: filing with evidence, hostile input, the admin list and resolve, webhooks. */

import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import type { Report } from "../../src/core/safety/reports.js";
import type { Message } from "../../src/core/types.js";
import { API_KEY, startDuet, type TestServer } from "../helpers/duet.js";
import { checkedFetch as fetch } from "../helpers/protocol-tap.js";
import { client, expectError, names, waitFor } from "./util.js";

const admin = async (server: TestServer, method: string, path: string, body?: unknown, key = API_KEY) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
};

const SECRET = `whsec_${Buffer.from("reports-webhook-secret-0123456789").toString("base64")}`;

interface Receiver {
  url: string;
  server: Server;
  received: { type: string; data: Record<string, unknown> }[];
}

async function startReceiver(): Promise<Receiver> {
  const verifier = new Webhook(SECRET);
  const receiver: Receiver = { url: "", server: createServer(), received: [] };
  receiver.server.on("request", (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      try {
        verifier.verify(raw, req.headers as Record<string, string>);
        receiver.received.push(JSON.parse(raw) as Receiver["received"][number]);
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hooks`;
  return receiver;
}

describe("reports", () => {
  let server: TestServer;
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
    server = await startDuet({
      DUET_WEBHOOK_URL: receiver.url,
      DUET_WEBHOOK_SECRET: SECRET,
      DUET_SCREEN: "flag",
    });
  });
  after(async () => {
    await server.close();
    receiver.server.closeAllConnections();
    receiver.server.close();
  });

  it("files a report with copies of the named messages; the admin lists and resolves it", async () => {
    const [a, b] = names("ann", "ben");
    const ann = await client(server.url, a);
    const ben = await client(server.url, b);
    await ann.send(b, "hi");
    const bad1 = await ben.send(a, "send me money");
    const bad2 = await ben.send(a, "now, or else");
    const r = await ann.call("POST", "/v1/reports", {
      user: b,
      reason: "scam",
      messageIds: [bad2.id, bad1.id, bad1.id],
      note: "asked for money twice",
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const report = r.body.report as Report;
    assert.match(report.id, /^[0-9A-Z]{26}$/);
    assert.equal(report.reporter, a);
    assert.equal(report.user, b);
    assert.equal(report.reason, "scam");
    assert.equal(report.note, "asked for money twice");
    assert.equal(report.status, "open");
    assert.deepEqual(report.messageIds, [bad1.id, bad2.id].sort());
    assert.deepEqual(report.messages, [bad1, bad2]);

    const listed = await admin(server, "GET", "/v1/admin/reports?status=open");
    assert.equal(listed.status, 200);
    assert.deepEqual(
      (listed.body.reports as Report[]).find((x) => x.id === report.id),
      report,
    );

    const resolved = await admin(server, "POST", `/v1/admin/reports/${report.id}/resolve`, {
      action: "banned",
    });
    assert.equal(resolved.status, 200);
    const done = resolved.body.report as Report;
    assert.equal(done.status, "resolved");
    assert.equal(done.action, "banned");
    assert.equal(typeof done.resolvedAt, "number");
    assert.deepEqual(done.messages, []);
    const open = await admin(server, "GET", "/v1/admin/reports");
    assert.ok(!(open.body.reports as Report[]).some((x) => x.id === report.id));
    const closed = await admin(server, "GET", "/v1/admin/reports?status=resolved");
    assert.deepEqual(
      (closed.body.reports as Report[]).find((x) => x.id === report.id),
      done,
    );
    // Resolving again changes nothing; a body is optional.
    const again = await admin(server, "POST", `/v1/admin/reports/${report.id}/resolve`);
    assert.deepEqual(again.body.report, done);
  });

  it("copies the last 20 messages of the conversation when none are named", async () => {
    const [a, b] = names("ann", "ben");
    const ann = await client(server.url, a);
    const ben = await client(server.url, b);
    const sent: Message[] = [];
    for (let i = 0; i < 25; i++) sent.push(await (i % 2 ? ann : ben).send(i % 2 ? b : a, `message ${i}`));
    const r = await ann.call("POST", "/v1/reports", { user: b, reason: "harassment" });
    assert.equal(r.status, 201);
    const report = r.body.report as Report;
    assert.deepEqual(report.messageIds, []);
    assert.deepEqual(report.messages, sent.slice(5));
    assert.equal(report.note, null);
  });

  it("keeps the copies after the pair is unmatched and the conversation erased", async () => {
    const [a, b] = names("ann", "ben");
    const ann = await client(server.url, a);
    const ben = await client(server.url, b);
    assert.equal((await admin(server, "PUT", `/v1/admin/pairs/${a}/${b}`, {})).status, 201);
    const threat = await ben.send(a, "I know where you live");
    const r = await ann.call("POST", "/v1/reports", {
      user: b,
      reason: "harassment",
      messageIds: [threat.id],
    });
    assert.equal(r.status, 201);
    const id = (r.body.report as Report).id;
    assert.equal((await ann.call("DELETE", `/v1/pairs/${b}`)).status, 200);
    const history = await ann.call("GET", `/v1/conversations/${b}/messages`);
    assert.deepEqual(history.body.messages, []);
    const listed = await admin(server, "GET", "/v1/admin/reports");
    assert.deepEqual((listed.body.reports as Report[]).find((x) => x.id === id)?.messages, [threat]);
  });

  it("refuses hostile reports with 400 and stores nothing", async () => {
    const [a, b, c] = names("ann", "ben", "cat");
    const ann = await client(server.url, a);
    const ben = await client(server.url, b);
    const theirs = await ben.send(c, "between ben and cat");
    const mine = await ben.send(a, "to ann");
    const before = ((await admin(server, "GET", "/v1/admin/reports?limit=200")).body.reports as Report[])
      .length;
    const bad: unknown[] = [
      { user: b, reason: "spam", messageIds: [theirs.id] },
      { user: b, reason: "spam", messageIds: [mine.id, theirs.id] },
      { user: c, reason: "spam", messageIds: [mine.id] },
      { user: b, reason: "spam", messageIds: Array.from({ length: 51 }, () => mine.id) },
      { user: b, reason: "spam", messageIds: "all" },
      { user: b, reason: "spam", messageIds: ["../../etc/passwd"] },
      { user: b, reason: "spam", messageIds: [42] },
      { user: b, reason: "because" },
      { user: b },
      { user: b, reason: "spam", note: "x".repeat(1001) },
      { user: b, reason: "spam", note: "bell\u0007" },
      { user: b, reason: "spam", note: 7 },
      { user: a, reason: "spam" },
      { user: "system", reason: "spam" },
      { user: "../admin", reason: "spam" },
      { user: "x".repeat(10_000), reason: "spam" },
      { user: b, reason: "spam", extra: true },
      [],
      "just text",
    ];
    for (const body of bad) {
      const r = await ann.call("POST", "/v1/reports", body);
      expectError(r, 400);
    }
    const malformed = await ann.call("POST", "/v1/reports", "{not json");
    expectError(malformed, 400, "invalid_json");
    const after = ((await admin(server, "GET", "/v1/admin/reports?limit=200")).body.reports as Report[])
      .length;
    assert.equal(after, before);
    // The same report naming only messages of the conversation is fine.
    const ok = await ann.call("POST", "/v1/reports", { user: b, reason: "spam", messageIds: [mine.id] });
    assert.equal(ok.status, 201);
  });

  it("lets no user list reports, and checks the server API's key and input", async () => {
    const [a] = names("ann");
    const ann = await client(server.url, a);
    assert.equal((await ann.call("GET", "/v1/reports")).status >= 400, true);
    expectError(await ann.call("GET", "/v1/admin/reports"), 401, "unauthorized");
    expectError(
      await admin(server, "GET", "/v1/admin/reports", undefined, "wrong-key-0123456789abcdef"),
      401,
    );
    expectError(await admin(server, "GET", "/v1/admin/reports?status=closed"), 400, "invalid_input");
    expectError(await admin(server, "GET", "/v1/admin/reports?before=nope"), 400, "invalid_input");
    expectError(await admin(server, "POST", "/v1/admin/reports/..%2F..%2Fx/resolve", {}), 400);
    expectError(
      await admin(server, "POST", "/v1/admin/reports/01JD0000000000000000000000/resolve", {}),
      404,
      "not_found",
    );
    const [b] = names("ben");
    const filed = await ann.call("POST", "/v1/reports", { user: b, reason: "other" });
    const id = (filed.body.report as Report).id;
    expectError(await admin(server, "POST", `/v1/admin/reports/${id}/resolve`, { action: "" }), 400);
    expectError(await admin(server, "POST", `/v1/admin/reports/${id}/resolve`, { action: 5 }), 400);
    expectError(await admin(server, "POST", `/v1/admin/reports/${id}/resolve`, { verdict: "x" }), 400);
  });

  it("sends report.created and message.flagged webhooks", async () => {
    const [a, b] = names("ann", "ben");
    const ann = await client(server.url, a);
    const ben = await client(server.url, b);
    const flagged = await ben.send(a, "text me 555-123-4567");
    assert.deepEqual(flagged.screened, ["phone"]);
    const filed = await ann.call("POST", "/v1/reports", {
      user: b,
      reason: "spam",
      messageIds: [flagged.id],
    });
    const report = filed.body.report as Report;
    const created = await waitFor("report.created", () =>
      receiver.received.find(
        (w) => w.type === "report.created" && (w.data.report as Report).id === report.id,
      ),
    );
    assert.deepEqual(created.data.report, report);
    const flag = await waitFor("message.flagged", () =>
      receiver.received.find(
        (w) => w.type === "message.flagged" && (w.data.message as Message).id === flagged.id,
      ),
    );
    assert.deepEqual(flag.data, { message: flagged, reasons: ["contact_info"] });
  });

  it("sends message.flagged for an edit the screen flags, and none for a clean one", async () => {
    const [a, b] = names("ann", "ben");
    await client(server.url, a);
    const ben = await client(server.url, b);
    const clean = await ben.send(a, "see you at eight");
    const tidy = await ben.call("PATCH", `/v1/messages/${clean.id}`, { text: "see you at nine" });
    assert.equal(tidy.status, 200);
    const edited = await ben.call("PATCH", `/v1/messages/${clean.id}`, { text: "call me on 555-123-4567" });
    assert.equal(edited.status, 200);
    const message = edited.body.message as Message;
    assert.deepEqual(message.screened, ["phone"]);
    const flag = await waitFor("message.flagged", () =>
      receiver.received.find(
        (w) => w.type === "message.flagged" && (w.data.message as Message).id === clean.id,
      ),
    );
    assert.deepEqual(flag.data, { message, reasons: ["contact_info"] });
    // The clean edit before it was not flagged: one flag for this message, the screened edit's.
    await ben.send(a, "marker");
    await waitFor("message.created marker", () =>
      receiver.received.find(
        (w) => w.type === "message.created" && (w.data.message as Message).text === "marker",
      ),
    );
    const flags = receiver.received.filter(
      (w) => w.type === "message.flagged" && (w.data.message as Message).id === clean.id,
    );
    assert.equal(flags.length, 1);
  });
});
