/**
 * One process of the reconnect storm's Socket.IO side (`--compare socketio`): the same IPC
 * protocol as test/network/storm-worker.ts (start → ready → warm → warmed → cut → report), but
 * its clients are `socket.io-client` 4.8 with its defaults (WebSocket transport only, as the
 * relay in bench/socketio-server.ts serves), against a server with connection state recovery.
 *
 * Each user has received a message from its peer before the cut (Socket.IO recovers only from
 * the offset of the last packet a client received). At the cut every TCP connection is reset
 * (RST). Each client then emits its message to its peer once it has seen its own disconnect: an
 * emit into a socket that just died is lost (Socket.IO's emits are at most once unless the
 * client's `retries` option is set), while an emit made while disconnected is buffered by the
 * client and sent on reconnect, which is what an application relying on recovery does.
 */
import { Agent } from "node:http";
import { type NetConnectOpts, type Socket as NetSocket, connect as netConnect } from "node:net";
import { io, type Socket } from "socket.io-client";
import { tokenFor } from "../helpers/duet.js";
import { StormTally, serveParent, type Tallied, toParent } from "./storm-tally.js";
import type { ToWorker } from "./storm-worker.js";

interface Party extends Tallied {
  socket: Socket;
  sent: boolean;
}

const tally = new StormTally<Party>();

/**
 * engine.io-client hands its `agent` option to `ws`, which then opens its connection through the
 * agent: this one tracks the sockets it makes.
 */
const agent = new Agent();
(agent as unknown as { createConnection: (o: NetConnectOpts) => NetSocket }).createConnection = (options) =>
  tally.track(netConnect(options));

function sendAfterCut(p: Party): void {
  if (p.sent) return;
  p.sent = true;
  p.socket.emit("send", { to: p.peer, text: `after-cut:${p.user}` });
}

async function start(msg: Extract<ToWorker, { type: "start" }>): Promise<void> {
  for (let i = 0; i < msg.users.length; i += msg.batch) {
    const group: Party[] = [];
    for (const j of msg.users.slice(i, i + msg.batch)) {
      const user = `storm-${j}`;
      const socket = io(msg.url, {
        transports: ["websocket"],
        forceNew: true,
        auth: { token: await tokenFor(user) },
        agent: agent as unknown as string,
      });
      const party: Party = {
        user,
        peer: `storm-${j ^ 1}`,
        socket,
        warmed: false,
        received: 0,
        sent: false,
        backAt: null,
        deliveredAt: null,
      };
      socket.on("message", (m: { from?: string; text?: string }) => {
        if (m.from === party.peer) tally.received(party, m.text);
      });
      socket.io.on("reconnect_attempt", () => tally.attempt());
      socket.on("disconnect", () => {
        if (tally.cut) sendAfterCut(party);
      });
      socket.on("connect", () => {
        if (tally.back(party) && socket.recovered) tally.recovered++;
      });
      group.push(party);
    }
    await Promise.all(
      group.map((p) =>
        p.socket.connected ? undefined : new Promise<void>((r) => p.socket.once("connect", () => r())),
      ),
    );
    tally.parties.push(...group);
    toParent({ type: "online", count: tally.parties.length });
  }
  toParent({ type: "ready", count: tally.parties.length });
}

serveParent({
  start,
  warm() {
    tally.warm();
    for (const p of tally.parties) p.socket.emit("send", { to: p.peer, text: `before-cut:${p.user}` });
  },
  cut() {
    tally.resetAll();
    // A client that has already seen its disconnect sends now; the others when they see it.
    for (const p of tally.parties) if (!p.socket.connected) sendAfterCut(p);
  },
  report: () => tally.report({ recovered: tally.recovered, failedSends: 0 }),
  close() {
    for (const p of tally.parties) p.socket.disconnect();
  },
});
