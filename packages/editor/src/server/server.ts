/** The editor's HTTP + WebSocket server. */

import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describeNodes, Runtime } from '@kinegraph/core';
import type { RunBackend } from '../queue/backend.js';
import { addJobRoutes, submitOptions } from '../queue/routes.js';
import { checkAccess, isLoopbackHost, TOKEN_COOKIE } from './auth.js';
import { listExamples } from './examples.js';
import { resolveInside, sendFile } from './files.js';
import { HttpError, readBody, readJson, sendError, sendJson } from './http.js';
import { LiveSockets, streamEvents } from './live.js';
import { type RequestContext, Router } from './router.js';
import { RunQueue } from './runs.js';
import { storeUpload } from './uploads.js';

/** How to start the server. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one. Default 8188. */
  readonly port?: number;
  /** Address to bind. Default 127.0.0.1; anything not loopback requires `token`. */
  readonly host?: string;
  /** Access token required on every request (header, `?token=` or cookie). */
  readonly token?: string;
  /** Working folder: `workflows/` (examples), `inputs/` (uploads), `outputs/` (results), `models/`. */
  readonly cwd?: string;
  /** A runtime to use (tests); by default one is created that discovers plugins from `cwd`. */
  readonly runtime?: Runtime;
  /** Largest upload, bytes. Default 50 MB. */
  readonly uploadLimitBytes?: number;
  /** Largest JSON body, bytes. Default 5 MB. */
  readonly jsonLimitBytes?: number;
  /** Folder of the built web app. Default: this package's `dist/web`. */
  readonly webRoot?: string;
  /** Where to report unexpected server errors. Default `console.error`. */
  readonly log?: (message: string) => void;
  /**
   * Redis URL of a shared queue (`kinegraph serve --queue`): runs are queued there and executed by
   * `kinegraph worker` processes. Without it, runs execute in this process, one at a time.
   */
  readonly queue?: string;
}

/** A running server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8188/` (without the token). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly runtime: Runtime;
  /** Stops accepting requests, cancels runs, closes sockets (and the runtime, if the server created it). */
  close(): Promise<void>;
}

/**
 * Starts the editor's server. Refuses (error code `TOKEN_REQUIRED`) to bind a non-loopback address
 * without a token.
 */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token === '' ? undefined : options.token;
  if (!isLoopbackHost(host) && token === undefined) {
    throw Object.assign(
      new Error(
        `Refusing to listen on ${host} without --token: anyone on that network could run workflows and read outputs.`,
      ),
      {
        code: 'TOKEN_REQUIRED',
        hint: 'Pass --token <secret> (clients then send it on every request), or keep the default --host 127.0.0.1.',
      },
    );
  }
  const cwd = resolve(options.cwd ?? process.cwd());
  const folders = { workflows: join(cwd, 'workflows'), inputs: join(cwd, 'inputs'), outputs: join(cwd, 'outputs') };
  const ownRuntime = options.runtime === undefined;
  const runtime = options.runtime ?? (await Runtime.create({ discover: { cwd } }));
  const log = options.log ?? ((m: string) => console.error(m));
  // Uploads (inputs/), the examples' own sample files (workflows/), and earlier results (outputs/).
  const readable = [folders.workflows, folders.inputs, folders.outputs];
  let runs: RunBackend & { addRoutes?(router: Router): void; stagedOutput?(path: string): Promise<unknown> };
  try {
    runs = options.queue
      ? // Loaded here: BullMQ and its Redis client are needed in queue mode only.
        await (await import('../queue/server-backend.js')).QueueRunBackend.start({
          queue: options.queue,
          runtime,
          readable: Object.entries(folders).map(([name, path]) => ({ name, path })),
          outputs: folders.outputs,
          log,
        })
      : new RunQueue(runtime, { outputFolder: folders.outputs, allowedFolders: readable });
  } catch (error) {
    if (ownRuntime) await runtime.close();
    throw error;
  }
  const live = new LiveSockets(runs);
  const webRoot = options.webRoot ?? defaultWebRoot();
  const uploadLimit = options.uploadLimitBytes ?? 50 * 1024 * 1024;
  const jsonLimit = options.jsonLimitBytes ?? 5 * 1024 * 1024;
  const nodes = describeNodes(runtime.registry);

  const router = new Router()
    .on('GET', '/api/health', async () => ({ ok: true, runs: runs.list().length, ...(await runs.health?.()) }))
    .on('GET', '/api/nodes', () => nodes)
    .on('GET', '/api/workflows', () => listExamples(folders.workflows))
    .on('POST', '/api/workflows/extract', async ({ req }) => {
      const bytes = await readBody(req, uploadLimit);
      const { readEmbeddedWorkflow } = await import('@kinegraph/nodes');
      let workflow: unknown;
      try {
        workflow = await readEmbeddedWorkflow(new Uint8Array(bytes));
      } catch (error) {
        throw new HttpError(
          422,
          (error as { code?: string }).code ?? 'EMBEDDED_WORKFLOW_INVALID',
          (error as Error).message,
        );
      }
      if (workflow === undefined)
        throw new HttpError(
          422,
          'NO_EMBEDDED_WORKFLOW',
          'The file carries no Kinegraph workflow.',
          'Only PNG, GIF, MP4 and WebM files written by Kinegraph (Save Image, Video Encode) carry one.',
        );
      return { workflow };
    })
    .on('POST', '/api/validate', async ({ req }) => {
      const result = runtime.validate(unwrapWorkflow(await readJson(req, jsonLimit)));
      return { ok: result.ok, issues: result.issues };
    })
    .on('GET', '/api/runs', () => runs.list())
    .on('POST', '/api/runs', async ({ req, res, url }) => {
      const body = await readJson(req, jsonLimit);
      const run = await runs.submit(unwrapWorkflow(body), submitOptions(body, url, req));
      sendJson(res, 202, { id: run.id, run });
    })
    .on('GET', '/api/runs/:id', ({ params }) => runs.get(params.id!))
    .on('POST', '/api/runs/:id/cancel', ({ params }) => runs.cancel(params.id!))
    .on('GET', '/api/runs/:id/events', ({ req, res, params }) => streamEvents(req, res, runs, params.id!))
    .on('GET', '/api/events', ({ req, res }) => streamEvents(req, res, runs, undefined))
    .on('POST', '/api/uploads', async ({ req, res, url }) => {
      const bytes = await readBody(req, uploadLimit);
      sendJson(
        res,
        201,
        await storeUpload(folders.inputs, bytes, {
          kind: url.searchParams.get('kind'),
          name: url.searchParams.get('name'),
        }),
      );
    })
    .on('GET', '/api/outputs/*', async ({ req, res, params }) => {
      const path = params['*']!;
      // Queue mode: a running run's file is served from where its worker uploaded it until it is committed.
      const file = await resolveInside(folders.outputs, path).catch(async (error: unknown) => {
        const staged = (await runs.stagedOutput?.(path)) as Awaited<ReturnType<typeof resolveInside>> | undefined;
        if (staged) return staged;
        throw error;
      });
      sendFile(req, res, file);
    });
  addJobRoutes(router, runs);
  runs.addRoutes?.(router);
  router
    .on('GET', '/api/*', ({ url }) => {
      throw new HttpError(
        404,
        'NOT_FOUND',
        `No endpoint ${url.pathname}.`,
        'The API is documented in packages/editor/README.md.',
      );
    })
    .on('GET', '/*', async ({ req, res, url, params }) => serveWeb(req, res, url, webRoot, params['*']!, token));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      checkAccess(req, url, token);
      checkOrigin(req);
      const { handler, params } = router.match(req.method ?? 'GET', url.pathname);
      const context: RequestContext = { req, res, url, params };
      const body = await handler(context);
      if (!res.headersSent && !res.writableEnded) sendJson(res, 200, body);
    } catch (error) {
      if (!(error instanceof HttpError))
        log(`kinegraph serve: ${req.method} ${req.url}: ${(error as Error)?.stack ?? String(error)}`);
      sendError(res, error);
    }
  };

  const server = createServer({ requestTimeout: 0 }, (req, res) => void handle(req, res));
  // Malformed HTTP never reaches a handler; answer it plainly instead of letting Node drop the socket.
  server.on('clientError', (_error, socket: Duplex) => {
    if (socket.writable)
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"BAD_REQUEST","message":"Malformed HTTP request."}}',
      );
    else socket.destroy();
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/api/ws') throw new HttpError(404, 'NOT_FOUND', 'WebSocket endpoint is /api/ws.');
      checkAccess(req, url, token);
      checkOrigin(req);
      live.upgrade(req, socket, head);
    } catch (error) {
      const e = error instanceof HttpError ? error : new HttpError(400, 'BAD_REQUEST', 'Bad upgrade.');
      const body = JSON.stringify(e.body());
      socket.end(
        `HTTP/1.1 ${e.status} Error\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8188, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8188);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    host,
    runtime,
    close: () =>
      (closing ??= (async () => {
        await runs.close();
        await live.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        if (ownRuntime) await runtime.close();
      })()),
  };
}

/** `POST /api/runs` takes the workflow itself, or `{ "workflow": ... }`. */
function unwrapWorkflow(body: unknown): unknown {
  if (typeof body === 'object' && body !== null && !('format' in body) && 'workflow' in body)
    return (body as { workflow: unknown }).workflow;
  return body;
}

/**
 * A browser sends `Origin` on cross-site requests; one that is not this server's own means another site
 * is trying to drive the editor (CSRF), so it is refused.
 */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  // Plain reads are harmless (the browser will not let the other site see the answer); writes and the
  // WebSocket (which browsers do not guard with CORS) are checked.
  if ((req.method === 'GET' || req.method === 'HEAD') && req.headers.upgrade === undefined) return;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new HttpError(403, 'ORIGIN_NOT_ALLOWED', `Origin "${origin}" is not allowed.`);
  }
  if (originHost !== req.headers.host)
    throw new HttpError(
      403,
      'ORIGIN_NOT_ALLOWED',
      `Requests from ${origin} are not allowed.`,
      'Use the editor served by this server.',
    );
}

/** The web app: static files, `index.html` for `/`; with a token, a valid `?token=` also sets the cookie. */
async function serveWeb(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  webRoot: string,
  rest: string,
  token: string | undefined,
): Promise<void> {
  if (!existsSync(join(webRoot, 'index.html'))) {
    throw new HttpError(
      503,
      'WEB_APP_NOT_BUILT',
      `The editor's web app is not built (no ${join(webRoot, 'index.html')}).`,
      'Run `npm run build -w @kinegraph/editor`.',
    );
  }
  const isIndex = rest === '' || rest === 'index.html';
  if (isIndex && token !== undefined && url.searchParams.get('token')) {
    // checkAccess has already verified it; the cookie lets assets, media and the WebSocket load without it.
    res.setHeader('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`);
  }
  const file = await resolveInside(webRoot, isIndex ? 'index.html' : rest);
  // Vite puts a content hash in asset names, so they can be cached for good; index.html never.
  sendFile(req, res, file, { cache: rest.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache' });
}

function defaultWebRoot(): string {
  // dist/index.js → dist/web; when running from source (tests), src/server → ../../dist/web.
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, 'web'), join(here, '..', '..', 'dist', 'web')])
    if (existsSync(candidate)) return candidate;
  return join(here, 'web');
}
