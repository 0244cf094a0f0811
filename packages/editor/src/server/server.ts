/** The editor's HTTP + WebSocket server. */

import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describeNodes, Runtime } from '@kinegraph/core';
import type { RunBackend } from '../queue/backend.js';
import { QUEUE_SERVER_LIMITS } from '../queue/limits.js';
import { addJobRoutes, submitOptions } from '../queue/routes.js';
import type { WirePreview } from '../shared/protocol.js';
import { checkAccess, checkTokenStrength, isLoopbackHost, TOKEN_COOKIE } from './auth.js';
import { capConnections } from './connections.js';

import { listExamples } from './examples.js';
import { resolveInside, sendFile } from './files.js';
import { HistoryStore } from './history-store.js';
import { HttpError, readBody, readJson, readJsonSized, SECURITY_HEADERS, sendError, sendJson } from './http.js';
import { resolveLimits, type ServerLimits } from './limits.js';
import { LiveSockets, streamEvents } from './live.js';
import { PathRedactor } from './redact.js';
import { type RequestContext, Router } from './router.js';
import { RunQueue } from './runs.js';
import { storeUpload } from './uploads.js';

/** How to start the server. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one. Default 8188. */
  readonly port?: number;
  /** Address to bind. Default 127.0.0.1; anything not loopback requires `token`. */
  readonly host?: string;
  /** Access token required on every request (header, `?token=` or cookie); at least 16 characters. */
  readonly token?: string;
  /** Working folder: `workflows/` (examples), `inputs/` (uploads), `outputs/` (results), `models/`. */
  readonly cwd?: string;
  /** A runtime to use (tests); by default one is created that discovers plugins from `cwd`. */
  readonly runtime?: Runtime;
  /** Device of the runtime created here (`kinegraph serve --device`). Default cpu. */
  readonly device?: 'cpu' | 'webgpu' | 'auto';
  /** Largest upload, bytes. Default 50 MB. Same as `limits.uploadBytes`. */
  readonly uploadLimitBytes?: number;
  /** Largest JSON body, bytes. Default 5 MB. Same as `limits.jsonBodyBytes`. */
  readonly jsonLimitBytes?: number;
  /** Bounds on bodies, queue, uploads, connections and time (see `limits.ts` for each default). */
  readonly limits?: Partial<ServerLimits>;
  /**
   * Memory budget of each run, bytes (a run may ask for less, never more). Default: the runtime's, i.e.
   * half of what the process may use (its cgroup's limit, else the machine's RAM).
   */
  readonly memoryBudgetBytes?: number;
  /** Folder of the built web app. Default: this package's `dist/web`. */
  readonly webRoot?: string;
  /** Where to report unexpected server errors. Default `console.error`. */
  readonly log?: (message: string) => void;
  /**
   * Folder of the run history (kept across restarts, in-process queue only: `--queue` keeps its history
   * in Redis). Default `<cwd>/.kinegraph/history`; `false`: none.
   */
  readonly historyFolder?: string | false;
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
  if (token !== undefined) checkTokenStrength(token);
  const limits = resolveLimits({
    // Queue mode: workers' output uploads may take long, and a fleet holds many connections.
    ...(options.queue ? QUEUE_SERVER_LIMITS : {}),
    ...(options.uploadLimitBytes !== undefined ? { uploadBytes: options.uploadLimitBytes } : {}),
    ...(options.jsonLimitBytes !== undefined ? { jsonBodyBytes: options.jsonLimitBytes } : {}),
    ...options.limits,
  });
  if (!isLoopbackHost(host) && token === undefined) {
    throw Object.assign(
      new Error(
        `Refusing to listen on ${host} without --token: anyone on that network could run workflows and read outputs.`,
      ),
      {
        code: 'TOKEN_REQUIRED',
        hint: 'Give a secret of 16+ characters with --token-file (or KINEGRAPH_TOKEN_FILE, KINEGRAPH_TOKEN, --token): clients then send it on every request. Or keep the default --host 127.0.0.1.',
      },
    );
  }
  const cwd = resolve(options.cwd ?? process.cwd());
  const folders = { workflows: join(cwd, 'workflows'), inputs: join(cwd, 'inputs'), outputs: join(cwd, 'outputs') };
  const ownRuntime = options.runtime === undefined;
  // A GPU device starts its worker (and probes the adapter) now, so the first run's outputs already record it.
  const device = options.device ?? 'cpu';
  const runtime =
    options.runtime ?? (await Runtime.create({ discover: { cwd }, device, startWorker: device !== 'cpu' }));
  const log = options.log ?? ((m: string) => console.error(m));
  // Uploads (inputs/), the examples' own sample files (workflows/), and earlier results (outputs/).
  const redactor = new PathRedactor(cwd);
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
          maxQueued: limits.queuedRuns,
          maxQueuedBytes: limits.queuedBytes,
          keepFinished: limits.finishedRuns,
        })
      : new RunQueue(
          runtime,
          {
            outputFolder: folders.outputs,
            allowedFolders: [folders.workflows, folders.inputs, folders.outputs],
            maxQueued: limits.queuedRuns,
            maxQueuedBytes: limits.queuedBytes,
            keepFinished: limits.finishedRuns,
            redactor,
            memoryBudgetBytes: runtime.memoryBudget(options.memoryBudgetBytes),
          },
          options.historyFolder === false
            ? undefined
            : new HistoryStore(options.historyFolder ?? join(cwd, '.kinegraph', 'history'), log),
        );
  } catch (error) {
    if (ownRuntime) await runtime.close();
    throw error;
  }
  const live = new LiveSockets(runs);
  const webRoot = options.webRoot ?? defaultWebRoot();

  const nodes = describeNodes(runtime.registry);
  // Uploads and extracts are held in memory while they are checked: only a few at once.
  let uploadsInFlight = 0;
  const readMedia = async (req: IncomingMessage): Promise<Buffer> => {
    if (uploadsInFlight >= limits.concurrentUploads)
      throw new HttpError(
        429,
        'TOO_MANY_UPLOADS',
        `${uploadsInFlight} uploads are being received already.`,
        'Send uploads one after another.',
        undefined,
        { 'retry-after': '2' },
      );
    uploadsInFlight++;
    try {
      return await readBody(req, limits.uploadBytes);
    } finally {
      uploadsInFlight--;
    }
  };

  const router = new Router()
    .on('GET', '/api/health', async () => ({ ok: true, runs: runs.list().length, ...(await runs.health?.()) }))
    .on('GET', '/api/nodes', () => nodes)
    .on('GET', '/api/workflows', () => listExamples(folders.workflows))
    .on('POST', '/api/workflows/extract', async ({ req }) => {
      const bytes = await readMedia(req);
      // The node library that wrote the file reads it back, through the runtime (its plugin's reader).
      let workflow: unknown;
      try {
        workflow = runtime.readEmbeddedWorkflow(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (error) {
        throw new HttpError(
          422,
          (error as { code?: string }).code ?? 'EMBEDDED_WORKFLOW_INVALID',
          redactor.text((error as Error).message),
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
      const result = runtime.validate(unwrapWorkflow(await readJson(req, limits.jsonBodyBytes, limits.jsonDepth)));
      return { ok: result.ok, issues: result.issues.map((issue) => redactor.error(issue)) };
    })
    .on('GET', '/api/runs', () => runs.list())
    .on('POST', '/api/runs', async ({ req, res, url }) => {
      runs.checkRoom(); // a full queue answers before the body is read
      const body = await readJsonSized(req, limits.jsonBodyBytes, limits.jsonDepth);
      const budget = requestedBudget(body.value);
      const run = await runs.submit(unwrapWorkflow(body.value), {
        ...submitOptions(body.value, url, req),
        bytes: body.bytes,
        ...(budget !== undefined ? { memoryBudgetBytes: budget } : {}),
      });

      sendJson(res, 202, { id: run.id, run });
    })
    .on('GET', '/api/runs/:id', ({ params }) => runs.get(params.id!))
    .on('POST', '/api/runs/:id/cancel', ({ params }) => runs.cancel(params.id!))
    .on('POST', '/api/runs/:id/run-next', ({ params }) => {
      if (!runs.runNext)
        throw new HttpError(
          409,
          'RUN_NEXT_UNSUPPORTED',
          'This server cannot move a waiting run.',
          'Queue mode orders runs by priority: submit it again with "front": true.',
        );
      return runs.runNext(params.id!);
    })
    .on('GET', '/api/runs/:id/thumbnail', ({ res, params }) => {
      runs.get(params.id!); // 404 for an unknown run
      sendThumbnail(res, runs.thumbnail?.(params.id!));
    })
    .on('GET', '/api/runs/:id/events', ({ req, res, params }) => streamEvents(req, res, runs, params.id!))
    .on('GET', '/api/events', ({ req, res }) => streamEvents(req, res, runs, undefined))
    .on('POST', '/api/uploads', async ({ req, res, url }) => {
      const bytes = await readMedia(req);
      sendJson(
        res,
        201,
        await storeUpload(
          folders.inputs,
          bytes,
          { kind: url.searchParams.get('kind'), name: url.searchParams.get('name') },
          {
            quotaBytes: limits.uploadQuotaBytes,
            maxSide: limits.uploadMaxSide,
            maxDecodedBytes: runtime.memoryBudget(options.memoryBudgetBytes),
          },
        ),
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
      sendError(res, error instanceof HttpError ? redactError(error, redactor) : error);
    }
  };

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often Node looks for requests past those timeouts (its default, 30 s, would let short ones slip).
      connectionsCheckingInterval: Math.min(1000, Math.max(100, limits.headersTimeoutMs / 4)),
    },
    (req, res) => void handle(req, res),
  );
  // A socket with no traffic at all for this long is closed (SSE streams send a comment every 15 s).
  server.setTimeout(limits.idleTimeoutMs, (socket: Socket) => socket.destroy());
  const connections = capConnections(server, limits.connections, limits.headersTimeoutMs);
  // Malformed HTTP, and requests whose headers or body come too slowly, never reach a handler; answer them
  // plainly instead of letting Node drop the socket, then close it.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const slow = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (socket.writable) {
      socket.end(
        slow
          ? 'HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"REQUEST_TIMEOUT","message":"The request was not received in time."}}'
          : 'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"BAD_REQUEST","message":"Malformed HTTP request."}}',
      );
      setTimeout(() => socket.destroy(), 1000).unref();
    } else socket.destroy();
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/api/ws') throw new HttpError(404, 'NOT_FOUND', 'WebSocket endpoint is /api/ws.');
      checkAccess(req, url, token);
      checkOrigin(req);
      connections.markUpgraded(socket as Socket);
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

/** The same error with server paths in its message, hint and issues rewritten. */
function redactError(error: HttpError, redactor: PathRedactor): HttpError {
  return new HttpError(
    error.status,
    error.code,
    redactor.text(error.message),
    error.hint === undefined ? undefined : redactor.text(error.hint),
    error.issues?.map((issue) => redactor.error(issue)),
    error.headers,
  );
}

/** The memory budget a `{ "workflow": ..., "memoryBudgetBytes": n }` submission asks for, if any. */
function requestedBudget(body: unknown): number | undefined {
  if (typeof body !== 'object' || body === null || 'format' in body || !('memoryBudgetBytes' in body)) return undefined;
  const value = (body as { memoryBudgetBytes: unknown }).memoryBudgetBytes;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new HttpError(
      400,
      'MEMORY_BUDGET_INVALID',
      'memoryBudgetBytes must be a positive number of bytes.',
      'Leave it out to use the server\u2019s budget.',
    );
  return value;
}

/** A run's thumbnail image; 404 when it made no preview (or the server keeps none). */
function sendThumbnail(res: ServerResponse, preview: WirePreview | undefined): void {
  if (!preview) throw new HttpError(404, 'NOT_FOUND', 'This run has no thumbnail.');
  const bytes = Buffer.from(preview.data, 'base64');
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': /^image\/(png|gif|jpeg|webp)$/.test(preview.mime) ? preview.mime : 'application/octet-stream',
    'content-length': bytes.length,
    'cache-control': 'private, max-age=31536000, immutable',
  });
  res.end(bytes);
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
      "The editor's web app is not built (no dist/web/index.html in @kinegraph/editor).",
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
