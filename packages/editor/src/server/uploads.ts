/** Uploaded inputs: sniffed by their bytes, stored under `inputs/` with generated names, never outside. */

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { UploadResult } from '../shared/protocol.js';
import { formatBytes, HttpError } from './http.js';
import { type CheckedMedia, checkMedia, MediaCheckError } from './upload-check.js';

/** What an upload's bytes turned out to be (a subset of {@link CheckedMedia}). */
export type SniffedType = Pick<CheckedMedia, 'mime' | 'ext' | 'media'>;

/**
 * Recognises PNG, JPEG, GIF, MP4 (ISO BMFF) and WebM whose structure is whole (see `upload-check.ts`);
 * `undefined` otherwise. Kept for callers that only need the type; uploads use {@link checkMedia}.
 */
export function sniff(bytes: Uint8Array): SniffedType | undefined {
  try {
    const { mime, ext, media } = checkMedia(bytes, Number.POSITIVE_INFINITY);
    return { mime, ext, media };
  } catch {
    return undefined;
  }
}

const KINDS = ['image', 'video', 'mask'] as const;

/**
 * A file name safe on every file system, from what the client called the file: its stem reduced to
 * `[a-z0-9_-]` (at most 40 characters), a random suffix so uploads never overwrite each other, and the
 * extension of what the bytes really are (never the client's).
 */
export function safeUploadName(clientName: string | null | undefined, ext: string): string {
  const stem = (clientName ?? '')
    .replace(/\.[^.]*$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${stem || 'upload'}-${randomBytes(4).toString('hex')}${ext}`;
}

/** How much an upload may be and hold. */
export interface UploadLimits {
  /** Bytes every file in `inputs/` may take together, this upload included. */
  readonly quotaBytes: number;
  /** Largest side a picture may declare. */
  readonly maxSide: number;
  /**
   * Most bytes the file may decode to, frames and tensor data together (16 bytes a pixel a frame): a run's
   * memory budget, as a file that cannot be loaded within it is of no use to anyone.
   */
  readonly maxDecodedBytes: number;
}

/**
 * Stores one upload. `kind` says what the client means it to be: images and masks must be still images
 * (PNG/JPEG) or GIF, videos must be a video container or GIF. The bytes must be a whole file of that type
 * (structure checked, not only the first bytes) within `limits.maxSide`, and fit the quota of `inputs/`.
 */
export async function storeUpload(
  inputsFolder: string,
  bytes: Buffer,
  query: { kind?: string | null; name?: string | null },
  limits: UploadLimits,
): Promise<UploadResult> {
  const kind = (query.kind ?? 'image') as UploadResult['kind'];
  if (!KINDS.includes(kind))
    throw new HttpError(
      400,
      'UPLOAD_KIND_INVALID',
      `Upload kind "${query.kind}" is not one of ${KINDS.join(', ')}.`,
      'Add ?kind=image, ?kind=video or ?kind=mask.',
    );
  if (bytes.length === 0)
    throw new HttpError(400, 'UPLOAD_EMPTY', 'The upload is empty.', 'Send the file bytes as the request body.');
  let type: CheckedMedia;
  try {
    type = checkMedia(bytes, limits.maxSide);
  } catch (error) {
    if (!(error instanceof MediaCheckError)) throw error;
    if (error.kind === 'unsupported')
      throw new HttpError(
        415,
        'UPLOAD_TYPE_UNSUPPORTED',
        'The file is not a PNG, JPEG, GIF, MP4 or WebM.',
        'Upload images as PNG or JPEG and videos as MP4, WebM or GIF.',
      );
    throw new HttpError(
      415,
      'UPLOAD_CONTENT_INVALID',
      error.message,
      `Upload a whole, undamaged file of at most ${limits.maxSide} pixels on a side; re-export it if it came from another tool.`,
    );
  }
  const decoded = type.width * type.height * (type.frames ?? 1) * 16;
  if (type.frames !== undefined && decoded > limits.maxDecodedBytes)
    throw new HttpError(
      415,
      'UPLOAD_CONTENT_INVALID',
      `The ${type.mime} declares ${type.width}\u00d7${type.height} \u00d7 ${type.frames} frames: about ${formatBytes(decoded)} decoded, more than a run's memory budget of ${formatBytes(limits.maxDecodedBytes)}.`,
      'Upload fewer or smaller frames.',
    );
  const fits = kind === 'video' ? type.media === 'video' : type.media === 'image' || type.mime === 'image/gif';
  if (!fits)
    throw new HttpError(
      415,
      'UPLOAD_TYPE_MISMATCH',
      `A ${type.mime} file cannot be uploaded as ${kind === 'video' ? 'a video' : `an ${kind}`}.`,
      kind === 'video' ? 'Videos are MP4, WebM or GIF.' : 'Images and masks are PNG, JPEG or GIF.',
    );
  await mkdir(inputsFolder, { recursive: true });
  // One upload at a time counts and writes, so two at once cannot both fit the same remaining quota.
  return serialised(inputsFolder, () => write(inputsFolder, bytes, type, kind, query.name, limits.quotaBytes));
}

const writing = new Map<string, Promise<unknown>>();

function serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
  const next = (writing.get(key) ?? Promise.resolve()).then(work, work);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  writing.set(key, settled);
  void settled.then(() => {
    if (writing.get(key) === settled) writing.delete(key);
  });
  return next;
}

async function write(
  inputsFolder: string,
  bytes: Buffer,
  type: CheckedMedia,
  kind: UploadResult['kind'],
  clientName: string | null | undefined,
  quotaBytes: number,
): Promise<UploadResult> {
  const used = await folderBytes(inputsFolder);
  if (used + bytes.length > quotaBytes)
    throw new HttpError(
      413,
      'UPLOAD_QUOTA_EXCEEDED',
      `inputs/ already holds ${formatBytes(used)}; this upload would pass its quota of ${formatBytes(quotaBytes)}.`,
      'Delete files you no longer need from the server\u2019s inputs/ folder.',
    );
  const name = safeUploadName(clientName, type.ext);
  const target = join(inputsFolder, name);
  // Write then rename so a half-written upload is never visible to a run.
  const temp = join(inputsFolder, `.${name}.partial`);
  await writeFile(temp, bytes, { flag: 'wx' });
  await rename(temp, target);
  return { name, path: name, mime: type.mime, size: bytes.length, kind };
}

/** Bytes taken by the files directly in `folder` (uploads are never put in subfolders). */
async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    total += (await stat(join(folder, entry.name)).catch(() => undefined))?.size ?? 0;
  }
  return total;
}
