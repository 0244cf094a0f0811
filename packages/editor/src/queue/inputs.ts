/**
 * The files a run reads, found by the server at submit so that a worker on another machine can fetch them
 * (no shared disk is assumed). Any string param that names a file in the run's readable folders counts —
 * exactly as a node's `context.files` would resolve it — plus, for a folder, its files, and for a numbered
 * PNG (`frame0001.png`), the numbered frames after it, as the video loaders read them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { createFileAccess } from '@kinegraph/core';
import { formatBytes, HttpError } from '../server/http.js';
import { INPUT_LIMITS } from './limits.js';

/** A readable folder of the server, by the name workers mirror it under. */
export interface NamedFolder {
  readonly name: string;
  readonly path: string;
}

/** One file a run reads: where it is relative to a readable folder, and what it must hash to. */
export interface InputFile {
  readonly folder: string;
  /** `/`-separated path inside the folder. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** A param holding an absolute path: the worker points it at its own copy. */
export interface AbsoluteParam {
  /** JSON pointer into the workflow (`/nodes/<id>/params/...`). */
  readonly pointer: string;
  readonly folder: string;
  readonly path: string;
}

export interface RunInputs {
  readonly files: readonly InputFile[];
  readonly absolute: readonly AbsoluteParam[];
}

/** Strings longer than this are prompts or data, never paths. */
const PATH_MAX = 1024;

/**
 * Finds the input files of a workflow. Throws 413 `RUN_INPUTS_TOO_LARGE` past the limits (count, size of
 * one file, size of all).
 */
export async function collectInputs(
  workflow: {
    nodes: Record<string, { params?: unknown }>;
    subgraphs?: Record<string, { nodes: Record<string, { params?: unknown }> }>;
  },
  folders: readonly NamedFolder[],
  limits = INPUT_LIMITS,
): Promise<RunInputs> {
  const access = createFileAccess({ allowedFolders: folders.map((f) => f.path), outputFolder: folders[0]!.path });
  const roots = await Promise.all(
    folders.map(async (f) => ({ name: f.name, real: await realpath(f.path).catch(() => f.path) })),
  );
  const locate = (real: string) => {
    for (const root of roots) {
      const rel = relative(root.real, real);
      if (rel && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel))
        return { folder: root.name, path: rel.split(sep).join('/') };
    }
    return undefined;
  };
  const found = new Map<string, { real: string; folder: string; path: string }>();
  const absolute: AbsoluteParam[] = [];
  // The nodes of the workflow and of its subgraphs, each with the pointer of its params.
  const nodes = [
    ...Object.entries(workflow.nodes).map(([id, node]) => ({ node, at: `/nodes/${escapePointer(id)}` })),
    ...Object.entries(workflow.subgraphs ?? {}).flatMap(([sid, subgraph]) =>
      Object.entries(subgraph?.nodes ?? {}).map(([id, node]) => ({
        node,
        at: `/subgraphs/${escapePointer(sid)}/nodes/${escapePointer(id)}`,
      })),
    ),
  ];
  for (const { node, at } of nodes) {
    for (const { pointer, value } of strings(node.params, `${at}/params`)) {
      if (value.length === 0 || value.length > PATH_MAX || value.includes('\n')) continue;
      let real: string;
      try {
        real = await access.resolveRead(value);
      } catch {
        continue; // Not a readable file: a prompt, an enum, or a path the node itself will report.
      }
      const where = locate(real);
      if (!where) continue;
      if (isAbsolute(value)) absolute.push({ pointer, ...where });
      for (const file of await expand(real)) {
        const at = locate(file);
        if (at) found.set(`${at.folder}/${at.path}`, { real: file, ...at });
        if (found.size > limits.files)
          throw tooLarge(`more than ${limits.files} input files`, 'Read fewer files, or a video instead of frames.');
      }
    }
  }
  const files: InputFile[] = [];
  let total = 0;
  for (const { real, folder, path } of found.values()) {
    const info = await stat(real);
    if (info.size > limits.fileBytes)
      throw tooLarge(`${folder}/${path} is ${formatBytes(info.size)}, over ${formatBytes(limits.fileBytes)}`);
    total += info.size;
    if (total > limits.totalBytes) throw tooLarge(`its input files pass ${formatBytes(limits.totalBytes)} in all`);
    files.push({ folder, path, size: info.size, sha256: await hashFile(real, info.size, info.mtimeMs) });
  }
  return { files, absolute };
}

function tooLarge(what: string, hint = 'Use smaller inputs (the limits are in packages/editor/README.md).'): HttpError {
  return new HttpError(413, 'RUN_INPUTS_TOO_LARGE', `The run cannot be sent to a worker: ${what}.`, hint);
}

/** Every string in a params value, with its JSON pointer. */
function* strings(value: unknown, pointer: string): Generator<{ pointer: string; value: string }> {
  if (typeof value === 'string') yield { pointer, value };
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* strings(value[i], `${pointer}/${i}`);
  else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) yield* strings(v, `${pointer}/${escapePointer(k)}`);
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A file with the numbered frames that follow it, or a folder's visible files. */
async function expand(real: string): Promise<string[]> {
  const info = await stat(real);
  if (info.isDirectory()) {
    const names = (await readdir(real, { withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => e.name);
    return names.map((n) => join(real, n));
  }
  if (!info.isFile()) return [];
  const match = /^(.*?)(\d+)\.png$/i.exec(basename(real));
  if (!match) return [real];
  const [, stem, digits] = match as unknown as [string, string, string];
  const siblings = new Set(await readdir(dirname(real)));
  const out: string[] = [];
  for (let n = Number(digits); ; n++) {
    const name = `${stem}${String(n).padStart(digits.length, '0')}.png`;
    if (!siblings.has(name)) break;
    out.push(join(dirname(real), name));
  }
  return out.length ? out : [real];
}

/** Hashes by path, size and mtime: a file submitted again unchanged is not read again. */
const hashes = new Map<string, string>();

async function hashFile(path: string, size: number, mtimeMs: number): Promise<string> {
  const key = `${path}\0${size}\0${mtimeMs}`;
  const known = hashes.get(key);
  if (known) return known;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  if (hashes.size > 10_000) hashes.clear();
  hashes.set(key, digest);
  return digest;
}

/** A path a worker received is plain: relative, `/`-separated, no `..`, no hidden or empty segments. */
export function isSafeRelativePath(path: string): boolean {
  if (typeof path !== 'string' || path.length === 0 || path.length > PATH_MAX || path.includes('\0')) return false;
  if (path.startsWith('/') || path.includes('\\')) return false;
  return path.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !s.startsWith('.'));
}
