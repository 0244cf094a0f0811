/**
 * What an upload really is: its structure walked far enough to know that it is a whole file of the type its
 * first bytes claim, and how large a picture it declares, without decoding a pixel. Magic bytes alone let
 * an 8-byte "PNG" through; a header alone lets a 32 KB PNG claim 16384 x 16384 (1 GB decoded). So: PNG
 * chunks with their CRCs up to IEND, JPEG segments up to the scan and the end marker, GIF blocks up to the
 * trailer, MP4 boxes that tile the file with a movie header, WebM's EBML header and its tracks' sizes.
 */

/** What the bytes were found to be. */
export interface CheckedMedia {
  readonly mime: 'image/png' | 'image/jpeg' | 'image/gif' | 'video/mp4' | 'video/webm';
  readonly ext: string;
  /** A still image or a video container (GIF counts as video; it may also be used as an image). */
  readonly media: 'image' | 'video';
  /** Declared picture size; 0 when the container does not say (an MP4 with no video track header). */
  readonly width: number;
  readonly height: number;
  /** Frames, where the header tells without decoding (GIF: image blocks; stills: 1). */
  readonly frames?: number;
}

/** Why the bytes are not acceptable: not a supported type at all, or a broken or oversized one. */
export class MediaCheckError extends Error {
  constructor(
    readonly kind: 'unsupported' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks the structure of a PNG, JPEG, GIF, MP4 or WebM file and returns what it declares. Throws
 * {@link MediaCheckError}: `unsupported` for other bytes, `invalid` for a truncated, damaged or
 * oversized (a side above `maxSide`) file.
 */
export function checkMedia(bytes: Uint8Array, maxSide: number): CheckedMedia {
  const at = (i: number, ...values: number[]) => values.every((v, k) => bytes[i + k] === v);
  let found: CheckedMedia;
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) found = checkPng(bytes);
  else if (at(0, 0xff, 0xd8, 0xff)) found = checkJpeg(bytes);
  else if (at(0, 0x47, 0x49, 0x46, 0x38)) found = checkGif(bytes);
  else if (at(4, 0x66, 0x74, 0x79, 0x70)) found = checkMp4(bytes);
  else if (at(0, 0x1a, 0x45, 0xdf, 0xa3)) found = checkWebm(bytes);
  else throw new MediaCheckError('unsupported', 'The file is not a PNG, JPEG, GIF, MP4 or WebM.');
  if (found.width > maxSide || found.height > maxSide)
    throw invalid(`declares ${found.width}\u00d7${found.height} pixels, more than ${maxSide} on a side`, found);
  return found;
}

function invalid(what: string, type?: { mime: string }): MediaCheckError {
  return new MediaCheckError('invalid', `The ${type?.mime ?? 'file'} ${what}.`);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// --- PNG ---------------------------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const PNG = { mime: 'image/png', ext: '.png', media: 'image' } as const;
const PNG_DEPTHS: Readonly<Record<number, readonly number[]>> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

function checkPng(bytes: Uint8Array): CheckedMedia {
  const v = view(bytes);
  let p = 8;
  let width = 0;
  let height = 0;
  let sawData = false;
  for (let index = 0; ; index++) {
    if (p + 12 > bytes.length) throw invalid('is truncated (no IEND chunk)', PNG);
    const length = v.getUint32(p);
    const type = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
    if (length > 0x7fffffff || p + 12 + length > bytes.length) throw invalid(`is truncated in its ${type} chunk`, PNG);
    if (crc32(bytes.subarray(p + 4, p + 8 + length)) !== v.getUint32(p + 8 + length))
      throw invalid(`has a damaged ${type} chunk (CRC mismatch)`, PNG);
    if (index === 0) {
      if (type !== 'IHDR' || length !== 13) throw invalid('does not start with an IHDR header', PNG);
      width = v.getUint32(p + 8);
      height = v.getUint32(p + 12);
      const depth = bytes[p + 16]!;
      const colour = bytes[p + 17]!;
      if (width === 0 || height === 0) throw invalid('declares an empty picture', PNG);
      if (!PNG_DEPTHS[colour]?.includes(depth)) throw invalid(`has an invalid colour type/bit depth`, PNG);
    }
    if (type === 'IDAT') sawData = true;
    p += 12 + length;
    if (type === 'IEND') break;
  }
  if (!sawData) throw invalid('has no image data (IDAT)', PNG);
  return { ...PNG, width, height, frames: 1 };
}

// --- JPEG --------------------------------------------------------------------------------------------

const JPEG = { mime: 'image/jpeg', ext: '.jpg', media: 'image' } as const;

function checkJpeg(bytes: Uint8Array): CheckedMedia {
  const v = view(bytes);
  let p = 2;
  let width = 0;
  let height = 0;
  for (;;) {
    if (p + 4 > bytes.length) throw invalid('is truncated before its image data', JPEG);
    if (bytes[p] !== 0xff) throw invalid('has a damaged segment', JPEG);
    const marker = bytes[p + 1]!;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xd9 || marker === 0xd8) throw invalid('has no image data', JPEG);
    const length = v.getUint16(p + 2);
    if (length < 2 || p + 2 + length > bytes.length) throw invalid('is truncated in a segment', JPEG);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (length < 8) throw invalid('has a damaged frame header', JPEG);
      height = v.getUint16(p + 5);
      width = v.getUint16(p + 7);
    }
    if (marker === 0xda) break; // start of scan: entropy-coded data follows
    p += 2 + length;
  }
  if (width === 0 || height === 0) throw invalid('has no frame header before its image data', JPEG);
  // The end-of-image marker, allowing the padding some writers add after it.
  let end = bytes.length;
  while (end > p && bytes[end - 1] === 0) end--;
  if (end < p + 2 || bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9)
    throw invalid('is truncated (no end marker)', JPEG);
  return { ...JPEG, width, height, frames: 1 };
}

// --- GIF ---------------------------------------------------------------------------------------------

const GIF = { mime: 'image/gif', ext: '.gif', media: 'video' } as const;

function checkGif(bytes: Uint8Array): CheckedMedia {
  if (bytes.length < 13 || !(bytes[4] === 0x37 || bytes[4] === 0x39) || bytes[5] !== 0x61)
    throw invalid('has no valid header', GIF);
  const width = bytes[6]! | (bytes[7]! << 8);
  const height = bytes[8]! | (bytes[9]! << 8);
  if (width === 0 || height === 0) throw invalid('declares an empty canvas', GIF);
  let p = 13;
  const flags = bytes[10]!;
  if (flags & 0x80) p += 3 * (1 << ((flags & 7) + 1));
  let frames = 0;
  const skipSubBlocks = () => {
    for (;;) {
      if (p >= bytes.length) throw invalid('is truncated', GIF);
      const size = bytes[p++]!;
      if (size === 0) return;
      p += size;
    }
  };
  for (;;) {
    if (p >= bytes.length) throw invalid('is truncated (no trailer)', GIF);
    const block = bytes[p++]!;
    if (block === 0x3b) break;
    if (block === 0x21) {
      p++; // label
      skipSubBlocks();
    } else if (block === 0x2c) {
      if (p + 10 > bytes.length) throw invalid('is truncated in an image descriptor', GIF);
      const left = bytes[p]! | (bytes[p + 1]! << 8);
      const top = bytes[p + 2]! | (bytes[p + 3]! << 8);
      const w = bytes[p + 4]! | (bytes[p + 5]! << 8);
      const h = bytes[p + 6]! | (bytes[p + 7]! << 8);
      if (left + w > width || top + h > height) throw invalid('has a frame outside its canvas', GIF);
      const local = bytes[p + 8]!;
      p += 9;
      if (local & 0x80) p += 3 * (1 << ((local & 7) + 1));
      const codeSize = bytes[p++];
      if (codeSize === undefined || codeSize < 2 || codeSize > 8) throw invalid('has a damaged frame', GIF);
      skipSubBlocks();
      frames++;
    } else throw invalid('has an unknown block', GIF);
  }
  if (frames === 0) throw invalid('has no frames', GIF);
  return { ...GIF, width, height, frames };
}

// --- MP4 (ISO BMFF) ------------------------------------------------------------------------------------

const MP4 = { mime: 'video/mp4', ext: '.mp4', media: 'video' } as const;

interface Box {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

/** The boxes tiling `[from, to)`; throws when one runs past the end. */
function boxes(bytes: Uint8Array, from: number, to: number): Box[] {
  const v = view(bytes);
  const out: Box[] = [];
  let p = from;
  while (p < to) {
    if (p + 8 > to) throw invalid('has a truncated box', MP4);
    let size = v.getUint32(p);
    let header = 8;
    if (size === 1) {
      if (p + 16 > to) throw invalid('has a truncated box', MP4);
      size = Number(v.getBigUint64(p + 8));
      header = 16;
    } else if (size === 0) size = to - p;
    if (size < header || p + size > to) throw invalid('is truncated (a box runs past the end)', MP4);
    out.push({ type: String.fromCharCode(...bytes.subarray(p + 4, p + 8)), start: p + header, end: p + size });
    p += size;
  }
  return out;
}

function checkMp4(bytes: Uint8Array): CheckedMedia {
  const top = boxes(bytes, 0, bytes.length);
  if (top[0]?.type !== 'ftyp') throw invalid('does not start with a file type box', MP4);
  const moov = top.find((b) => b.type === 'moov');
  if (!moov || !top.some((b) => b.type === 'mdat' || b.type === 'moof')) throw invalid('has no movie (moov/mdat)', MP4);
  let width = 0;
  let height = 0;
  const v = view(bytes);
  for (const trak of boxes(bytes, moov.start, moov.end).filter((b) => b.type === 'trak')) {
    const tkhd = boxes(bytes, trak.start, trak.end).find((b) => b.type === 'tkhd');
    if (!tkhd) continue;
    const offset = tkhd.start + 4 + (bytes[tkhd.start] === 1 ? 32 : 20) + 52;
    if (offset + 8 > tkhd.end) throw invalid('has a damaged track header', MP4);
    width = Math.max(width, v.getUint32(offset) >>> 16);
    height = Math.max(height, v.getUint32(offset + 4) >>> 16);
  }
  return { ...MP4, width, height };
}

// --- WebM (Matroska) ---------------------------------------------------------------------------------

const WEBM = { mime: 'video/webm', ext: '.webm', media: 'video' } as const;

interface Element {
  readonly id: number;
  readonly start: number;
  readonly end: number;
}

function vint(bytes: Uint8Array, p: number, keepMarker: boolean): { value: number; length: number; unknown: boolean } {
  const first = bytes[p];
  if (first === undefined || first === 0) throw invalid('has a damaged element', WEBM);
  const length = Math.clz32(first) - 23;
  if (p + length > bytes.length) throw invalid('is truncated', WEBM);
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    value = value * 256 + bytes[p + i]!;
    allOnes &&= bytes[p + i] === 0xff;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

/** The elements in `[from, to)`; an element of unknown size (live streams) runs to `to`. */
function elements(bytes: Uint8Array, from: number, to: number): Element[] {
  const out: Element[] = [];
  let p = from;
  while (p < to) {
    const id = vint(bytes, p, true);
    const size = vint(bytes, p + id.length, false);
    const start = p + id.length + size.length;
    const end = size.unknown ? to : start + size.value;
    if (end > to) throw invalid('is truncated (an element runs past the end)', WEBM);
    out.push({ id: id.value, start, end });
    p = end;
  }
  return out;
}

function uint(bytes: Uint8Array, e: Element): number {
  let value = 0;
  for (let i = e.start; i < e.end; i++) value = value * 256 + bytes[i]!;
  return value;
}

function checkWebm(bytes: Uint8Array): CheckedMedia {
  const top = elements(bytes, 0, bytes.length);
  const header = top[0]!;
  const docType = elements(bytes, header.start, header.end).find((e) => e.id === 0x4282);
  const name = docType ? String.fromCharCode(...bytes.subarray(docType.start, docType.end)) : '';
  if (name !== 'webm') throw invalid(`is not WebM (document type "${name}")`, WEBM);
  const segment = top.find((e) => e.id === 0x18538067);
  if (!segment) throw invalid('has no segment', WEBM);
  let width = 0;
  let height = 0;
  const children = elements(bytes, segment.start, segment.end);
  if (!children.some((e) => e.id === 0x1f43b675)) throw invalid('has no clusters (no frames)', WEBM);
  for (const tracks of children.filter((e) => e.id === 0x1654ae6b))
    for (const entry of elements(bytes, tracks.start, tracks.end).filter((e) => e.id === 0xae))
      for (const video of elements(bytes, entry.start, entry.end).filter((e) => e.id === 0xe0))
        for (const field of elements(bytes, video.start, video.end)) {
          if (field.id === 0xb0) width = Math.max(width, uint(bytes, field));
          if (field.id === 0xba) height = Math.max(height, uint(bytes, field));
        }
  return { ...WEBM, width, height };
}
