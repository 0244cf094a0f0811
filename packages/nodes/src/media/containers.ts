/**
 * Just enough of the PNG, MP4 and Matroska/WebM container formats to pull out a text tag without
 * decoding any pictures or running ffprobe, so a workflow can be read back from a file anywhere.
 */

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** tEXt chunks of a PNG as keyword → text (walks chunks; stops at IEND or a malformed chunk). */
export function readPngTextChunks(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 8;
  while (p + 8 <= bytes.length) {
    const length = view.getUint32(p);
    const type = latin1.decode(bytes.subarray(p + 4, p + 8));
    const start = p + 8;
    if (start + length > bytes.length) break;
    if (type === 'tEXt') {
      const data = bytes.subarray(start, start + length);
      const nul = data.indexOf(0);
      if (nul > 0) out[latin1.decode(data.subarray(0, nul))] = latin1.decode(data.subarray(nul + 1));
    }
    if (type === 'IEND') break;
    p = start + length + 4; // + CRC
  }
  return out;
}

/** Text of the iTunes-style `©cmt` tag (moov/udta/meta/ilst), which ffmpeg writes for `comment`. */
export function readMp4Comment(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Boxes to descend into, and how many bytes of header each has before its children (meta is a full box).
  const path: Array<[string, number]> = [
    ['moov', 0],
    ['udta', 0],
    ['meta', 4],
    ['ilst', 0],
    ['\u00a9cmt', 0],
    ['data', -1],
  ];
  let start = 0;
  let end = bytes.length;
  for (const [name, skip] of path) {
    const box = findBox(bytes, view, start, end, name);
    if (!box) return undefined;
    if (skip < 0) return utf8.decode(bytes.subarray(box.start + 8, box.end)); // data: type (4) + locale (4)
    start = box.start + skip;
    end = box.end;
  }
  return undefined;
}

function findBox(
  bytes: Uint8Array,
  view: DataView,
  from: number,
  to: number,
  name: string,
): { start: number; end: number } | undefined {
  let p = from;
  while (p + 8 <= to) {
    let size = view.getUint32(p);
    let header = 8;
    if (size === 1 && p + 16 <= to) {
      size = Number(view.getBigUint64(p + 8));
      header = 16;
    } else if (size === 0) size = to - p;
    if (size < header || p + size > to) return undefined;
    if (latin1.decode(bytes.subarray(p + 4, p + 8)) === name) return { start: p + header, end: p + size };
    p += size;
  }
  return undefined;
}

const EBML_TAG_NAME = 0x45a3;
const EBML_TAG_STRING = 0x4487;

/**
 * Value of the Matroska SimpleTag named `name` (case-insensitive), e.g. `COMMENT`. Scans for TagName
 * elements rather than walking the whole EBML tree: tags sit in a few small elements, and the
 * TagString must follow in the same SimpleTag for a match to count.
 */
export function readMatroskaTag(bytes: Uint8Array, name: string): string | undefined {
  const wanted = name.toUpperCase();
  for (let p = 0; p + 3 < bytes.length; p++) {
    if (bytes[p] !== 0x45 || bytes[p + 1] !== 0xa3) continue;
    const size = readVint(bytes, p + 2);
    if (!size || size.value > 256) continue;
    const valueStart = p + 2 + size.length;
    if (latin1.decode(bytes.subarray(valueStart, valueStart + size.value)).toUpperCase() !== wanted) continue;
    // Siblings after TagName: TagLanguage, TagDefault, ... then TagString.
    let q = valueStart + size.value;
    for (let i = 0; i < 4 && q < bytes.length; i++) {
      const id = readElementId(bytes, q);
      if (!id) break;
      const len = readVint(bytes, q + id.length);
      if (!len) break;
      const body = q + id.length + len.length;
      if (id.value === EBML_TAG_STRING) return utf8.decode(bytes.subarray(body, body + len.value));
      if (id.value === EBML_TAG_NAME) break;
      q = body + len.value;
    }
  }
  return undefined;
}

/** An EBML variable-size integer (marker bit removed). */
function readVint(bytes: Uint8Array, p: number): { value: number; length: number } | undefined {
  const first = bytes[p];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (length > 8 || p + length > bytes.length) return undefined;
  let value = first & (0xff >> length);
  for (let i = 1; i < length; i++) value = value * 256 + bytes[p + i]!;
  return { value, length };
}

/** An EBML element id (marker bit kept, as ids are written in the spec). */
function readElementId(bytes: Uint8Array, p: number): { value: number; length: number } | undefined {
  const first = bytes[p];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (length > 4 || p + length > bytes.length) return undefined;
  let value = first;
  for (let i = 1; i < length; i++) value = value * 256 + bytes[p + i]!;
  return { value, length };
}
