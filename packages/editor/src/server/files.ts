/** Serving files from a folder: content types by extension, HTTP Range, and no way out of the folder. */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { HttpError, SECURITY_HEADERS } from './http.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Content type of a file name, by extension; `application/octet-stream` when unknown. */
export function contentTypeOf(name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** True when `path` is `root` or inside it. */
export function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Resolves a URL path (already split off its prefix) to a file inside `root`: rejects `..`, NUL, absolute
 * paths and symlinks leading out of the folder; 404 when there is no such file.
 */
export async function resolveInside(
  root: string,
  urlPath: string,
): Promise<{ path: string; size: number; mtimeMs: number }> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    throw new HttpError(400, 'PATH_INVALID', 'The path is not valid percent-encoding.');
  }
  if (decoded.includes('\0') || decoded.split(/[\\/]/).some((s) => s === '..'))
    throw new HttpError(400, 'PATH_INVALID', 'The path may not contain ".." or NUL.');
  const base = resolve(root);
  const candidate = resolve(base, `.${sep}${decoded}`);
  if (!isInside(candidate, base)) throw new HttpError(400, 'PATH_INVALID', 'The path leads outside the folder.');
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([realpath(candidate), realpath(base)]);
  } catch {
    throw new HttpError(404, 'NOT_FOUND', `No file "${decoded}".`);
  }
  if (!isInside(real, realRoot)) throw new HttpError(404, 'NOT_FOUND', `No file "${decoded}".`);
  const info = await stat(real);
  if (!info.isFile()) throw new HttpError(404, 'NOT_FOUND', `No file "${decoded}".`);
  return { path: real, size: info.size, mtimeMs: info.mtimeMs };
}

/** Parses a single-range `Range: bytes=a-b` header; `undefined` = whole file; 416 when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Multi-range and other units are legal to ignore: answer with the whole file.
  if (!match) return undefined;
  const [, a, b] = match;
  let start: number;
  let end: number;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) throw rangeError(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) throw rangeError(size);
  return { start, end };
}

function rangeError(size: number): HttpError {
  return Object.assign(
    new HttpError(416, 'RANGE_NOT_SATISFIABLE', `The requested range is outside the file (${size} bytes).`),
    { size },
  );
}

/** Streams a file with its content type, honouring `Range` and `HEAD`. */
export function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: { path: string; size: number; mtimeMs: number },
  options: { cache?: string } = {},
): void {
  const headers: Record<string, string | number> = {
    ...SECURITY_HEADERS,
    'content-type': contentTypeOf(file.path),
    'accept-ranges': 'bytes',
    'last-modified': new Date(file.mtimeMs).toUTCString(),
    'cache-control': options.cache ?? 'no-cache',
  };
  let range: { start: number; end: number } | undefined;
  try {
    range = parseRange(req.headers.range, file.size);
  } catch (error) {
    res.writeHead(416, {
      ...SECURITY_HEADERS,
      'content-range': `bytes */${file.size}`,
      'content-type': 'application/json; charset=utf-8',
    });
    res.end(JSON.stringify((error as HttpError).body()));
    return;
  }
  const status = range ? 206 : 200;
  const start = range?.start ?? 0;
  const end = range?.end ?? file.size - 1;
  headers['content-length'] = file.size === 0 ? 0 : end - start + 1;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${file.size}`;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || file.size === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(file.path, { start, end });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}
