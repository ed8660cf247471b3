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
import type { FromWorker, ToWorker, WorkerReport } from "./storm-worker.js";

/** Every TCP connection of this process's clients, so the cut can reset them all at once. */
const sockets = new Set<NetSocket>();

/**
 * engine.io-client hands its `agent` option to `ws`, which then opens its connection through the
 * agent: this one tracks the sockets it makes.
 */
const agent = new Agent();
(agent as unknown as { createConnection: (o: NetConnectOpts) => NetSocket }).createConnection = (options) => {
  const socket = netConnect(options);
  sockets.add(socket);
  socket.once("close", () => sockets.delete(socket));
  return socket;
};

interface Party {
  user: string;
  peer: string;
  socket: Socket;
  warmed: boolean;
  received: number;
  sent: boolean;
  backAt: number | null;
  deliveredAt: number | null;
}

const send = (message: FromWorker) => {
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
};
const parties: Party[] = [];
let cutAt = 0;
let reset = 0;
let attempts = 0;
let duplicates = 0;
let recovered = 0;
let cut = false;
let completeSent = false;
let warmedCount = 0;
let warming = false;
let backCount = 0;
let deliveredCount = 0;

function checkWarm(): void {
  if (warming && warmedCount === parties.length) {
    warming = false;
    send({ type: "warmed" });
  }
}

function checkComplete(): void {
  if (completeSent || !cut) return;
  if (backCount === parties.length && deliveredCount === parties.length) {
    completeSent = true;
    send({ type: "complete" });
  }
}

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
      const before = `before-cut:${party.peer}`;
      const after = `after-cut:${party.peer}`;
      socket.on("message", (m: { from?: string; text?: string }) => {
        if (m.from !== party.peer) return;
        if (m.text === before && !party.warmed) {
          party.warmed = true;
          warmedCount++;
          checkWarm();
        } else if (m.text === after) {
          party.received++;
          if (party.received > 1) duplicates++;
          else {
            party.deliveredAt = Date.now();
            deliveredCount++;
            checkComplete();
          }
        }
      });
      socket.io.on("reconnect_attempt", () => {
        if (cut) attempts++;
      });
      socket.on("disconnect", () => {
        if (cut) sendAfterCut(party);
      });
      socket.on("connect", () => {
        if (!cut || party.backAt !== null) return;
        party.backAt = Date.now();
        if (socket.recovered) recovered++;
        backCount++;
        checkComplete();
      });
      group.push(party);
    }
    await Promise.all(
      group.map((p) =>
        p.socket.connected ? undefined : new Promise<void>((r) => p.socket.once("connect", () => r())),
      ),
    );
    parties.push(...group);
    send({ type: "online", count: parties.length });
  }
  send({ type: "ready", count: parties.length });
}

function warm(): void {
  warming = true;
  for (const p of parties) p.socket.emit("send", { to: p.peer, text: `before-cut:${p.user}` });
  checkWarm();
}

function doCut(): void {
  cut = true;
  cutAt = Date.now();
  reset = sockets.size;
  for (const socket of [...sockets]) socket.resetAndDestroy();
  const progress = setInterval(() => {
    send({ type: "progress", back: backCount, delivered: deliveredCount });
    if (completeSent) clearInterval(progress);
  }, 1_000);
  // A client that has already seen its disconnect sends now; the others when they see it.
  for (const p of parties) if (!p.socket.connected) sendAfterCut(p);
}

function report(): WorkerReport {
  return {
    cutAt,
    reset,
    backAt: parties.map((p) => p.backAt),
    deliveredAt: parties.map((p) => p.deliveredAt),
    duplicates,
    attempts,
    failedSends: 0,
    recovered,
  };
}

process.on("message", (raw) => {
  const msg = raw as ToWorker;
  switch (msg.type) {
    case "start":
      start(msg).catch((err: unknown) => send({ type: "error", message: String(err) }));
      break;
    case "warm":
      warm();
      break;
    case "cut":
      setTimeout(doCut, Math.max(0, msg.at - Date.now()));
      break;
    case "report":
      send({ type: "report", report: report() });
      break;
    case "close":
      for (const p of parties) p.socket.disconnect();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 100).unref();
      break;
  }
});
process.on("disconnect", () => process.exit(0));
