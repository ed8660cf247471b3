/**
 * A process holding one presence connection, for tests that kill it with SIGKILL:
 * `node --import tsx redis-presence-child.ts <redis url> <user>`; prints "ready" once registered.
 */
import { openRedisPresence } from "../../src/stores/redis/redis-presence.js";

const [url, user] = process.argv.slice(2);
if (url === undefined || user === undefined)
  throw new Error("usage: redis-presence-child.ts <redis url> <user>");
const presence = await openRedisPresence(url, { heartbeatMs: 100, nodeTtlMs: 500 });
presence.connected(user);
// The write above is fire-and-forget; a query after it on the same connection sees it done.
await presence.query([user]);
process.stdout.write("ready\n");
setInterval(() => {}, 60_000);
