/**
 * Whether a file in one of Kinegraph's disk caches may be trusted. Caches hold what decides what runs: the
 * record of files already verified against a model pack's sha256 (skip it, and a tampered model runs), the
 * optimised models ONNX Runtime loads, validator code that is evaluated. Anyone who can write such a file
 * (or the folder it is in, or swap a folder for a symlink) could make the next run load their bytes. So, as
 * ssh treats its keys, a cache file counts only when it is a regular file (not a symlink), owned by this
 * user and writable by nobody else, and every folder from it up to the cache's root is a real folder with
 * the same owner that nobody else can write. Anything else is ignored, never trusted.
 */
import { lstatSync, statSync } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';

/** Mode bits meaning "group or others may write". */
const WRITABLE_BY_OTHERS = 0o022;

interface Info {
  uid: number;
  mode: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

function privateTo(info: Info): boolean {
  const uid = process.getuid?.();
  return (uid === undefined || info.uid === uid) && (info.mode & WRITABLE_BY_OTHERS) === 0;
}

/** The folders from `path`'s own up to `root` (inclusive); empty when `path` is not inside `root`. */
function foldersUpTo(path: string, root: string): string[] {
  const top = resolve(root);
  const rel = relative(top, resolve(path));
  if (rel === '' || rel.startsWith('..')) return [];
  const out: string[] = [];
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    out.push(dir);
    if (dir === top || dirname(dir) === dir) break;
  }
  return out;
}

/**
 * True when `path` is a private regular file inside `root` (see the module comment). The root itself may be
 * a symlink the user made (its target is judged); folders below it may not.
 */
export async function isPrivateFile(path: string, root: string): Promise<boolean> {
  try {
    const file = await lstat(path);
    if (!file.isFile() || !privateTo(file)) return false;
    const folders = foldersUpTo(path, root);
    if (folders.length === 0) return false;
    for (const dir of folders) {
      const info = dir === resolve(root) ? await stat(dir) : await lstat(dir);
      if (!info.isDirectory() || !privateTo(info)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** {@link isPrivateFile}, synchronously (the validator cache is read while a validator is compiled). */
export function isPrivateFileSync(path: string, root: string): boolean {
  try {
    const file = lstatSync(path);
    if (!file.isFile() || !privateTo(file)) return false;
    const folders = foldersUpTo(path, root);
    if (folders.length === 0) return false;
    for (const dir of folders) {
      const info = dir === resolve(root) ? statSync(dir) : lstatSync(dir);
      if (!info.isDirectory() || !privateTo(info)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Mode for folders a cache creates: only this user may enter or write them. */
export const PRIVATE_FOLDER_MODE = 0o700;
/** Mode for files a cache writes. */
export const PRIVATE_FILE_MODE = 0o600;
