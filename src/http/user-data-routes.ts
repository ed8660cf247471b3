import type { ServerResponse } from "node:http";
import { DuetError } from "../core/errors.js";
import type { UserData } from "../core/user-data.js";
import { SYSTEM_USER } from "../core/validate.js";
import { drained } from "../transports/drained.js";
import { requireApiKey } from "./auth.js";
import { sendJson } from "./respond.js";
import type { Router } from "./router.js";
import { route } from "./schemas/index.js";
import { userDataApi } from "./schemas/user-data.js";

export interface UserDataRouteDeps {
  data: UserData;
  apiKey: string | undefined;
}

/**
 * Writes `chunks` to `res` as they come, waiting for 'drain' when the socket's buffer is full (so
 * a slow reader holds the export, not the server's memory), and stops reading the store as soon
 * as the client is gone. Resolves once done or abandoned.
 */
export async function streamChunks(res: ServerResponse, chunks: AsyncIterable<string>): Promise<void> {
  const gone = () => res.destroyed || res.writableEnded;
  const iterator = chunks[Symbol.asyncIterator]();
  try {
    for (;;) {
      if (gone()) return;
      const next = await iterator.next();
      if (next.done === true) break;
      if (gone()) return;
      // 'close' too: a client that disconnects while the buffer is full never drains it.
      if (!res.write(next.value)) await drained(res);
    }
    res.end();
  } finally {
    await iterator.return?.();
  }
}

/** SPEC section 15 through the server API: export (and erase) one user. */
export function userDataRoutes(router: Router, deps: UserDataRouteDeps): void {
  const api = userDataApi();

  route(router, api.exportUser, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { user } = v.params(ctx);
    const chunks = deps.data.exportChunks(user);
    // The first chunk (the first line and the small records) is read before the headers go out:
    // a store that cannot be read is still answered 503, not a 200 cut short.
    const first = await chunks.next();
    ctx.res.writeHead(200, {
      "content-type": "application/x-ndjson; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    async function* rest(): AsyncGenerator<string> {
      if (first.done !== true) yield first.value;
      yield* chunks;
    }
    try {
      await streamChunks(ctx.res, rest());
    } catch {
      // Headers are out: the only way left to say "incomplete" is to cut the response (a
      // chunked answer without its last chunk, which clients report as an error).
      ctx.res.destroy();
    }
  });

  route(router, api.eraseUser, async (ctx, v) => {
    requireApiKey(deps.apiKey, ctx.req);
    const { user } = v.params(ctx);
    // The system user's conversations are every user's system messages: not one person's data.
    if (user === SYSTEM_USER) throw new DuetError("invalid_input", "The system user cannot be erased.");
    sendJson(ctx.res, 200, { erased: await deps.data.erase(user) });
  });
}
