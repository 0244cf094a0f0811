/** Uploaded inputs: sniffed by their bytes, stored under `inputs/` with generated names, never outside. */

import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { UploadResult } from '../shared/protocol.js';
import { HttpError } from './http.js';

/** What an upload's bytes turned out to be. */
export interface SniffedType {
  mime: string;
  ext: string;
  /** Whether it is a still image or a video container (GIF counts as both; we call it video). */
  media: 'image' | 'video';
}

/** Recognises PNG, JPEG, GIF, MP4 (ISO BMFF) and WebM by their magic bytes; `undefined` otherwise. */
export function sniff(bytes: Uint8Array): SniffedType | undefined {
  const at = (i: number, ...values: number[]) => values.every((v, k) => bytes[i + k] === v);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return { mime: 'image/png', ext: '.png', media: 'image' };
  if (at(0, 0xff, 0xd8, 0xff)) return { mime: 'image/jpeg', ext: '.jpg', media: 'image' };
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return { mime: 'image/gif', ext: '.gif', media: 'video' };
  if (at(4, 0x66, 0x74, 0x79, 0x70)) return { mime: 'video/mp4', ext: '.mp4', media: 'video' };
  if (at(0, 0x1a, 0x45, 0xdf, 0xa3)) return { mime: 'video/webm', ext: '.webm', media: 'video' };
  return undefined;
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

/**
 * Stores one upload. `kind` says what the client means it to be: images and masks must be still images
 * (PNG/JPEG) or GIF, videos must be a video container or GIF.
 */
export async function storeUpload(
  inputsFolder: string,
  bytes: Buffer,
  query: { kind?: string | null; name?: string | null },
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
  const type = sniff(bytes);
  if (!type)
    throw new HttpError(
      415,
      'UPLOAD_TYPE_UNSUPPORTED',
      'The file is not a PNG, JPEG, GIF, MP4 or WebM.',
      'Upload images as PNG or JPEG and videos as MP4, WebM or GIF.',
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
  const name = safeUploadName(query.name, type.ext);
  const target = join(inputsFolder, name);
  // Write then rename so a half-written upload is never visible to a run.
  const temp = join(inputsFolder, `.${name}.partial`);
  await writeFile(temp, bytes, { flag: 'wx' });
  await rename(temp, target);
  return { name, path: name, mime: type.mime, size: bytes.length, kind };
}
