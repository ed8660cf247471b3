import { readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";

/**
 * The Lua scripts, one per atomic operation, each the concatenation of shared step files and its
 * own entry file (lua/*.lua, read next to this module: the build copies them, see
 * scripts/copy-lua.mjs). Defined once per client with defineCommand: EVALSHA, EVAL on NOSCRIPT.
 */
const SCRIPTS = {
  duetSend: { files: ["lib", "send-steps", "outbox-steps", "send"], keys: 18 },
  duetClaimClientId: { files: ["claim-client-id"], keys: 1 },
  duetStoreMessage: { files: ["lib", "send-steps", "store-message"], keys: 8 },
  duetApplyMessage: { files: ["lib", "send-steps", "apply-message"], keys: 4 },
  duetMarkRead: { files: ["lib", "read-steps", "mark-read"], keys: 8 },
  duetMoveMarker: { files: ["lib", "read-steps", "move-marker"], keys: 2 },
  duetApplyRead: { files: ["lib", "read-steps", "apply-read"], keys: 3 },
  duetReadUnread: { files: ["lib", "read-steps", "read-unread"], keys: 9 },
  duetTakeUnread: { files: ["lib", "read-steps", "take-unread"], keys: 3 },
  duetHistory: { files: ["history"], keys: 2 },
  duetUnreadCount: { files: ["unread-count"], keys: 5 },
  duetEventsSince: { files: ["lib", "events-since"], keys: 2 },
  duetPresence: { files: ["presence"], keys: 1 },
  duetReportCreate: { files: ["report-create"], keys: 2 },
  duetReportList: { files: ["report-list"], keys: 2 },
  duetReportResolve: { files: ["report-resolve"], keys: 3 },
  duetPairMatch: { files: ["lib", "pair-steps", "pair-match"], keys: 13 },
  duetPairUnmatch: { files: ["lib", "pair-steps", "pair-unmatch"], keys: 19 },
  duetPairMatchStep: { files: ["lib", "pair-steps", "pair-match-step"], keys: 1 },
  duetPairUnmatchStep: { files: ["lib", "pair-steps", "pair-unmatch-step"], keys: 7 },
  duetPairApply: { files: ["lib", "pair-steps", "pair-apply"], keys: 6 },
  duetPairDone: { files: ["pair-done"], keys: 1 },
  duetPairScrub: { files: ["pair-scrub"], keys: 2 },
  duetPairScrubFinish: { files: ["pair-scrub-finish"], keys: 2 },
  duetRelation: { files: ["relation"], keys: 2 },
  duetOutboxEnqueue: { files: ["outbox-steps", "outbox-enqueue"], keys: 2 },
  duetOutboxClaim: { files: ["outbox-claim"], keys: 2 },
  duetOutboxSettle: { files: ["outbox-steps", "outbox-settle"], keys: 3 },
  duetOutboxRetry: { files: ["outbox-steps", "outbox-retry"], keys: 3 },
  duetOutboxFailed: { files: ["outbox-failed"], keys: 2 },
  duetOutboxDepth: { files: ["outbox-depth"], keys: 2 },
  duetOutboxRemove: { files: ["outbox-remove"], keys: 3 },
  duetPushAdd: { files: ["push-add"], keys: 1 },
  duetTtlSet: { files: ["lib", "expiry-steps", "ttl-set"], keys: 5 },
  duetTtlChange: { files: ["lib", "expiry-steps", "ttl-change"], keys: 1 },
  duetTtlApply: { files: ["lib", "expiry-steps", "ttl-apply"], keys: 2 },
  duetExpire: { files: ["lib", "expiry-steps", "expire"], keys: 8 },
  duetExpireConv: { files: ["lib", "expiry-steps", "expire-conv"], keys: 4 },
  duetExpireUser: { files: ["lib", "expiry-steps", "expire-user"], keys: 2 },
  duetLease: { files: ["lease"], keys: 1 },
  duetLeaseRelease: { files: ["lease-release"], keys: 1 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
export type ScriptArg = string | number;
type ScriptCall = (...args: ScriptArg[]) => Promise<unknown>;

const cache = new Map<string, string>();
function source(file: string): string {
  let text = cache.get(file);
  if (text === undefined) {
    text = readFileSync(new URL(`./lua/${file}.lua`, import.meta.url), "utf8");
    cache.set(file, text);
  }
  return text;
}

export function scriptSource(name: ScriptName): string {
  return SCRIPTS[name].files.map(source).join("\n");
}

/** Runs duet's scripts on one client. */
export class Scripts {
  private readonly client: Redis | Cluster;

  constructor(client: Redis | Cluster) {
    this.client = client;
    for (const [name, def] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, { lua: scriptSource(name as ScriptName), numberOfKeys: def.keys });
    }
  }

  /** `keysAndArgs`: the script's keys (exactly as many as it takes), then its arguments. */
  runFlat(name: ScriptName, keysAndArgs: ScriptArg[]): Promise<unknown> {
    return (this.client as unknown as Record<ScriptName, ScriptCall>)[name].apply(this.client, keysAndArgs);
  }

  run(name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    if (keys.length !== SCRIPTS[name].keys) throw new Error(`${name} takes ${SCRIPTS[name].keys} keys`);
    const call = (this.client as unknown as Record<ScriptName, ScriptCall>)[name];
    return call.apply(this.client, [...keys, ...args]);
  }
}
