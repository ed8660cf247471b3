/**
 * Which process holds the server end of a loopback TCP connection, read from Linux /proc: the
 * server side of a connection is the socket in /proc/net/tcp whose local port is the server's and
 * whose remote port is the client's; its inode is open in exactly one process's /proc/<pid>/fd
 * (with node:cluster the primary accepts and hands the socket to a worker, and only that worker
 * keeps it open). Used by the bench's placement check and the multi-worker tests.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** inode of each established server-side socket on `serverPort`, by the client's port. */
export function serverSockets(serverPort: number): Map<number, string> {
  const byClientPort = new Map<number, string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      const remote = f[2];
      const inode = f[9];
      // 01: ESTABLISHED
      if (!local || !remote || !inode || f[3] !== "01") continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) !== serverPort) continue;
      byClientPort.set(Number.parseInt(remote.slice(remote.lastIndexOf(":") + 1), 16), inode);
    }
  }
  return byClientPort;
}

/** The process of `pids` that holds each socket inode. */
export function socketOwners(pids: number[]): Map<string, number> {
  const owners = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (link.startsWith("socket:[")) owners.set(link.slice(8, -1), pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return owners;
}

/** Which of `pids` holds the server end of the connection from `clientPort` to `serverPort`. */
export function ownerOf(serverPort: number, clientPort: number, pids: number[]): number | undefined {
  const inode = serverSockets(serverPort).get(clientPort);
  return inode === undefined ? undefined : socketOwners(pids).get(inode);
}
