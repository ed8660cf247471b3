/**
 * Which server process holds each user's WebSocket, read from /proc (the bench and the servers
 * share the machine): the server side of a connection is the socket in /proc/net/tcp whose local
 * port is the server's and whose remote port is the client's; its inode is open in exactly one
 * process's /proc/<pid>/fd. With several workers the figure of record is the share of pairs whose
 * two users are on different processes (every message then crosses Redis to reach its peer).
 */
import { serverSockets, socketOwners } from "../test/helpers/proc-sockets.js";

export interface Placement {
  /** Pairs (u2k, u2k+1) whose two users were both found. */
  pairs: number;
  /** Of those, pairs whose users are on different processes. */
  apart: number;
  /** The second user of each pair found on one process. */
  together: string[];
  /** Users found per process. */
  perProcess: number[];
}

/** Where each user's connection is, for users u0, u1, … paired u2k ↔ u2k+1. */
export function placement(ports: [string, number][], serverUrl: string, pids: number[]): Placement {
  const serverPort = Number(new URL(serverUrl).port);
  const sockets = serverSockets(serverPort);
  const owners = socketOwners(pids);
  const processOf = new Map<string, number>();
  for (const [user, port] of ports) {
    const inode = sockets.get(port);
    const pid = inode === undefined ? undefined : owners.get(inode);
    if (pid !== undefined) processOf.set(user, pid);
  }
  let pairs = 0;
  let apart = 0;
  const together: string[] = [];
  for (const [user, pid] of processOf) {
    const i = Number(user.slice(1));
    if (i % 2 !== 0) continue;
    const peer = processOf.get(`u${i + 1}`);
    if (peer === undefined) continue;
    pairs++;
    if (peer !== pid) apart++;
    else together.push(`u${i + 1}`);
  }
  const counts = new Map<number, number>();
  for (const pid of processOf.values()) counts.set(pid, (counts.get(pid) ?? 0) + 1);
  return { pairs, apart, together, perProcess: [...counts.values()].sort((a, b) => b - a) };
}
