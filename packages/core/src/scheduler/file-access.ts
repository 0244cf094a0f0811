import { randomBytes } from 'node:crypto';
import { mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { FileAccess } from '../sdk/files.js';
import { KinegraphError } from '../util/errors.js';

export interface FileAccessOptions {
  /** Folders reads may come from; relative reads resolve against the first, then the others. */
  readonly allowedFolders: readonly string[];
  readonly outputFolder: string;
  /** Node id for error messages. */
  readonly nodeId?: string;
}

/**
 * The sandbox every file-reading and file-writing node goes through. Reads must resolve, after following
 * symlinks, inside an allowed folder; writes are atomic (temporary file, then rename), so a cancelled or
 * failed run never leaves a half-written output.
 */
export function createFileAccess(options: FileAccessOptions): FileAccess & { cleanup(): Promise<void> } {
  const allowed = options.allowedFolders.map((f) => resolve(f));
  const outputFolder = resolve(options.outputFolder);
  const written: string[] = [];
  const pendingTemps = new Set<string>();
  const nodeId = options.nodeId;

  async function allowedReal(): Promise<string[]> {
    return Promise.all(allowed.map((f) => realpath(f).catch(() => f)));
  }

  async function resolveRead(path: string): Promise<string> {
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
      throw new KinegraphError(
        'PATH_INVALID',
        `Path ${JSON.stringify(String(path).replace(/\0/g, '\\0')).slice(0, 200)} is not a valid file path.`,
        {
          ...(nodeId ? { nodeId } : {}),
          hint: 'Give a file name relative to the workflow\u2019s folder or inputs/, without NUL bytes.',
        },
      );
    }
    const candidates = isAbsolute(path) ? [path] : allowed.map((folder) => resolve(folder, path));
    const roots = await allowedReal();
    let outside: string | undefined;
    for (const candidate of candidates) {
      const lexicallyInside = allowed.some((root) => isInside(candidate, root));
      if (!lexicallyInside) {
        outside = candidate;
        continue;
      }
      let real: string;
      try {
        real = await realpath(candidate);
      } catch {
        continue; // Missing here; try the next folder.
      }
      if (!roots.some((root) => isInside(real, root))) {
        outside = candidate; // A symlink pointing out of the sandbox.
        continue;
      }
      return real;
    }
    if (outside !== undefined) {
      throw new KinegraphError('PATH_OUTSIDE_ALLOWED', `"${path}" is outside the folders this run may read.`, {
        ...(nodeId ? { nodeId } : {}),
        hint: `Allowed folders: ${allowed.join(', ')}. Copy the file into one of them, or allow its folder with --allow <dir>.`,
      });
    }
    throw new KinegraphError('FILE_NOT_FOUND', `File "${path}" was not found.`, {
      ...(nodeId ? { nodeId } : {}),
      hint: `Looked in: ${allowed.join(', ')}.`,
    });
  }

  return {
    allowedFolders: allowed,
    outputFolder,
    written,
    resolveRead,
    async read(path) {
      const real = await resolveRead(path);
      const info = await stat(real);
      if (!info.isFile()) {
        throw new KinegraphError('FILE_NOT_FOUND', `"${path}" is not a file.`, {
          ...(nodeId ? { nodeId } : {}),
          hint: 'Give the path of a file, not a folder.',
        });
      }
      return new Uint8Array(await readFile(real));
    },
    async writeOutput(name, data) {
      if (
        typeof name !== 'string' ||
        name === '' ||
        name.includes('\0') ||
        basename(name) !== name ||
        name === '.' ||
        name === '..'
      ) {
        throw new KinegraphError(
          'PATH_INVALID',
          `Output name ${JSON.stringify(String(name).replace(/\0/g, '\\0')).slice(0, 200)} is not a plain file name.`,
          {
            ...(nodeId ? { nodeId } : {}),
            hint: 'Output names are file names without folders, e.g. "video.mp4"; the output folder is chosen with --out.',
          },
        );
      }
      await mkdir(outputFolder, { recursive: true });
      const target = join(outputFolder, name);
      const temp = join(outputFolder, `.${name}.${randomBytes(4).toString('hex')}.partial`);
      pendingTemps.add(temp);
      try {
        if (typeof data === 'function') await data(temp);
        else await writeFile(temp, data);
        await rename(temp, target);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      } finally {
        pendingTemps.delete(temp);
      }
      written.push(target);
      return target;
    },
    async cleanup() {
      await Promise.all([...pendingTemps].map((t) => rm(t, { force: true })));
    },
  };
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
