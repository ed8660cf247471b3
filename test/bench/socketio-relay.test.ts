/**
 * The Socket.IO relay the bench compares duet with is a real Socket.IO 4.8 server: the official
 * client (socket.io-client) relays through it, and a bad token is refused. The bench's own client
 * speaks engine.io directly; this keeps both honest about the protocol.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { io, type Socket } from "socket.io-client";
import { compileEntry, type ServerProcess, startSocketIo } from "../../bench/servers.js";
import { signToken } from "../helpers/kit.js";

const SECRET = "relay-secret-0123456789abcdef0123456789";
let server: ServerProcess;
const sockets: Socket[] = [];

before(async () => {
  const [entry, gcHook] = await Promise.all([compileEntry("socketio-server"), compileEntry("gc-hook")]);
  server = await startSocketIo({ entry, gcHook, nodeArgs: [], fdNeed: 256, secret: SECRET, workers: 1 });
});

after(async () => {
  for (const socket of sockets) socket.close();
  await server.stop();
});

function connect(token: string): Promise<Socket> {
  const socket = io(server.url, { transports: ["websocket"], auth: { token }, reconnection: false });
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

test("the official Socket.IO client relays through the bench's relay, to the peer's room", async () => {
  const alice = await connect(await signToken("alice", SECRET, 3600));
  const bob = await connect(await signToken("bob", SECRET, 3600));
  const received = new Promise<unknown>((resolve) => bob.once("message", resolve));
  alice.emit("send", { to: "bob", text: "hello" });
  assert.deepEqual(await received, { from: "alice", text: "hello" });
});

test("a token signed with another secret is refused", async () => {
  await assert.rejects(
    connect(await signToken("mallory", "not-the-secret-0123456789abcdef", 3600)),
    /unauthorized/,
  );
});
