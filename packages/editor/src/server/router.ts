/** A minimal router: method + path pattern (`:name` segments, a trailing `*`) to handler. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http.js';

/** What a handler gets. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** `:name` segments, decoded; `*` holds the raw rest of the path. */
  readonly params: Record<string, string>;
}

export type Handler = (context: RequestContext) => unknown;

interface Route {
  readonly method: string;
  readonly segments: string[];
  readonly handler: Handler;
}

/** Routes requests; answers 404/405 with coded errors for everything it does not know. */
export class Router {
  readonly #routes: Route[] = [];

  /** Adds a route. `GET` routes also answer `HEAD`. */
  on(method: string, pattern: string, handler: Handler): this {
    this.#routes.push({ method, segments: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  /** Finds the handler for a request, or throws 404/405. */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } {
    const parts = pathname.split('/').filter(Boolean);
    const allowed = new Set<string>();
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method || (route.method === 'GET' && method === 'HEAD'))
        return { handler: route.handler, params };
      allowed.add(route.method);
    }
    if (allowed.size)
      throw new HttpError(
        405,
        'METHOD_NOT_ALLOWED',
        `${method} is not allowed on ${pathname}.`,
        `Use ${[...allowed].join(' or ')}.`,
      );
    throw new HttpError(
      404,
      'NOT_FOUND',
      `No endpoint ${pathname}.`,
      'The API is documented in packages/editor/README.md.',
    );
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p === '*') {
      params['*'] = parts.slice(i).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    } else if (p !== part) return undefined;
  }
  return parts.length === pattern.length ? params : undefined;
}
