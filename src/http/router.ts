import type { IncomingMessage, ServerResponse } from "node:http";
import { DuetError } from "../core/errors.js";
import type { RequestUrl } from "./request-url.js";

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: RequestUrl;
  params: Record<string, string>;
}

export type Handler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  method: string;
  /** The template, as registered (`/v1/conversations/:peer/messages`): what the access log shows. */
  path: string;
  segments: string[];
  handler: Handler;
  /** The id of the route's documented contract (schemas/), if it has one. */
  documented: string | undefined;
}

/** Method + path matching with `:name` segments. Params are percent-decoded, not yet validated. */
export class Router {
  private readonly routes: Route[] = [];

  on(method: string, path: string, handler: Handler, spec?: { id: string }): this {
    this.routes.push({
      method,
      path,
      segments: path.split("/").filter(Boolean),
      handler,
      documented: spec?.id,
    });
    return this;
  }

  /** What is registered (for the test that holds routes and the OpenAPI document together). */
  list(): { method: string; path: string; documented: string | undefined }[] {
    return this.routes.map(({ method, path, documented }) => ({ method, path, documented }));
  }

  match(
    method: string,
    pathname: string,
  ): { handler: Handler; params: Record<string, string>; route: string } | null {
    const parts = pathname.split("/").filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      pathMatched = true;
      if (route.method === method || (method === "HEAD" && route.method === "GET"))
        return { handler: route.handler, params, route: route.path };
    }
    if (pathMatched) throw new DuetError("method_not_allowed");
    return null;
  }
}

function matchSegments(segments: string[], parts: string[]): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    const part = parts[i];
    if (seg === undefined || part === undefined) return null;
    if (seg.startsWith(":")) {
      try {
        params[seg.slice(1)] = decodeURIComponent(part);
      } catch {
        throw new DuetError("invalid_input", "The path is not valid percent-encoding.");
      }
    } else if (seg !== part) {
      return null;
    }
  }
  return params;
}
