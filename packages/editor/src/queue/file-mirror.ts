/**
 * A worker's copy of the server's readable folders. Input files are fetched once into a store by content
 * (`<work>/blobs/<sha256>`) and linked into a mirror of the server's folders (`<work>/files/inputs/...`), so
 * a run's params resolve on the worker exactly as on the server, and paths stay the same from run to run
 * (a loader's cache key includes the path: unchanged inputs keep their cached results). The mirror holds at
 * most what the server's folders hold; delete the work folder while the worker is stopped to free it.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { KinegraphError } from '@kinegraph/core';
import { type InputFile, isSafeRelativePath } from './inputs.js';

export class FileMirror {
  readonly #blobs: string;
  readonly #files: string;

  constructor(
    root: string,
    /** The server's readable folder names, in lookup order. */
    readonly names: readonly string[],
  ) {
    this.#blobs = join(root, 'blobs');
    this.#files = join(root, 'files');
  }

  /** The mirrored folders, in the server's lookup order: a run's `allowedFolders`. */
  folders(): string[] {
    return this.names.map((n) => join(this.#files, n));
  }

  /** Where an input lives in the mirror. */
  pathOf(folder: string, path: string): string {
    if (!this.names.includes(folder) || !isSafeRelativePath(path))
      throw new KinegraphError('INPUT_INVALID', `The server sent an input outside its folders: ${folder}/${path}.`);
    return join(this.#files, folder, ...path.split('/'));
  }

  /**
   * Makes one input present in the mirror, fetching it (`fetch(dest)` writes and verifies the file) unless
   * a file with its hash is already in the store.
   */
  async provide(input: InputFile, fetch: (dest: string) => Promise<void>): Promise<string> {
    const target = this.pathOf(input.folder, input.path);
    const blob = join(this.#blobs, input.sha256);
    if (!/^[0-9a-f]{64}$/.test(input.sha256))
      throw new KinegraphError('INPUT_INVALID', `Input ${input.folder}/${input.path} has no valid sha256.`);
    const [blobInfo, targetInfo] = await Promise.all([
      stat(blob).catch(() => undefined),
      stat(target).catch(() => undefined),
    ]);
    if (blobInfo && targetInfo && blobInfo.ino === targetInfo.ino && blobInfo.dev === targetInfo.dev) return target;
    if (!blobInfo) {
      await mkdir(this.#blobs, { recursive: true });
      await fetch(blob);
    }
    await mkdir(dirname(target), { recursive: true });
    // Replace atomically: a run reading the previous version keeps its open file.
    const temp = join(dirname(target), `.${randomBytes(4).toString('hex')}.partial`);
    try {
      await link(blob, temp).catch(() => copyFile(blob, temp));
      await rename(temp, target);
    } finally {
      await rm(temp, { force: true });
    }
    return target;
  }
}
