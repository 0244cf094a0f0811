/**
 * The files an earlier process hashed and found as a manifest says, kept on disk so the next process does
 * not hash a 16 MB pack again on every run (≈ 20 ms of CPU at every `kinegraph run`, competing with the
 * inference worker's start on a 2-core machine).
 *
 * An entry is the file's identity when it was hashed (inode, size, mtime, ctime) and the digest the
 * manifest expected: any write to the file changes its ctime, so a file that changed since is hashed
 * again, like `git status` trusting its index. The record lives in Kinegraph's disk cache
 * (`KINEGRAPH_CACHE`, `off` to always hash); it is written under a temporary name and renamed, holds at
 * most {@link MAX_ENTRIES} files, and a record that cannot be read is treated as empty. A record that is
 * not private (a symlink, writable by others, or in a folder others can write: see `isPrivateFile`) is
 * treated as empty too: whoever could forge an entry could make a tampered model skip its hash check.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheFolder, isPrivateFile, PRIVATE_FILE_MODE, PRIVATE_FOLDER_MODE } from '@kinegraph/core/sdk';

/** How many verified files the record remembers (the most recently verified are kept). */
export const MAX_ENTRIES = 256;

const FILE = 'verified-files.json';

/** Path → identity, as read from disk (undefined until loaded; empty when there is no record). */
let record: Map<string, string> | undefined;
/** Whether the record changed since it was loaded or saved. */
let dirty = false;

/** The record's folder, or undefined when disk caching is off. */
function folder(): string | undefined {
  return cacheFolder('verified');
}

/** Whether `path` was verified with exactly this identity by this or an earlier process. */
export async function wasVerified(path: string, identity: string): Promise<boolean> {
  record ??= await load();
  return record.get(path) === identity;
}

/** Remembers that `path` with this identity matched its manifest (saved by {@link saveVerified}). */
export function markVerified(path: string, identity: string): void {
  record ??= new Map();
  if (record.get(path) === identity) return;
  record.delete(path); // re-inserted last: the newest entries survive trimming
  record.set(path, identity);
  dirty = true;
}

/** Forgets `path` (it failed verification). */
export function forgetVerified(path: string): void {
  if (record?.delete(path)) dirty = true;
}

/** Writes the record to disk when it changed; failures are ignored (the next process hashes again). */
export async function saveVerified(): Promise<void> {
  const dir = folder();
  if (dir === undefined || record === undefined || !dirty) return;
  dirty = false;
  const entries = [...record].slice(-MAX_ENTRIES);
  const path = join(dir, FILE);
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: PRIVATE_FOLDER_MODE });
    await writeFile(temporary, JSON.stringify(Object.fromEntries(entries)), { mode: PRIVATE_FILE_MODE });
    await rename(temporary, path);
  } catch {
    await rm(temporary, { force: true }).catch(() => undefined);
  }
}

async function load(): Promise<Map<string, string>> {
  const dir = folder();
  if (dir === undefined) return new Map();
  try {
    if (!(await isPrivateFile(join(dir, FILE), dirname(dir)))) return new Map();
    const value = JSON.parse(await readFile(join(dir, FILE), 'utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return new Map();
    return new Map(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return new Map();
  }
}

/** Test hook: forgets what was loaded, as a new process would. */
export function resetVerifiedForTests(): void {
  record = undefined;
  dirty = false;
}
