/** Reading back the workflow that VideoEncode and SaveImage embed in the files they write. */
import { readFile } from 'node:fs/promises';
import { KinegraphError } from '@kinegraph/core/sdk';
import { readMatroskaTag, readMp4Comment, readPngTextChunks } from './containers.js';
import { isGif, readGifComments } from './gif.js';
import { isPng } from './png.js';
import { WORKFLOW_KEY } from './workflow-text.js';

/**
 * The workflow embedded in a PNG (tEXt `kinegraph-workflow`), GIF (Comment Extension), MP4 (`comment`
 * tag) or WebM (`COMMENT` tag), parsed from JSON; `undefined` when the file carries none. Pure JS: no
 * ffprobe needed. Throws `EMBEDDED_WORKFLOW_INVALID` when the tag is there but is not a JSON object.
 *
 * @param source File bytes, or a path the caller is allowed to read (the editor's own trusted path;
 *   nodes should pass bytes from `context.files.read`).
 */
export async function readEmbeddedWorkflow(source: Uint8Array | string): Promise<unknown | undefined> {
  const bytes = typeof source === 'string' ? new Uint8Array(await readFile(source)) : source;
  const texts = embeddedTexts(bytes);
  for (const text of texts) {
    const value = parseObject(text);
    if (value !== undefined) return value;
  }
  if (texts.length > 0 && isPng(bytes)) {
    // A PNG's keyword is ours alone, so a value that does not parse is a broken embed, not someone else's tag.
    throw new KinegraphError(
      'EMBEDDED_WORKFLOW_INVALID',
      `The embedded ${WORKFLOW_KEY} is not a valid workflow JSON object.`,
      { hint: 'The file\u2019s metadata was damaged or edited; load the workflow from its JSON file instead.' },
    );
  }
  return undefined;
}

/** Candidate texts: our PNG keyword, or every comment (GIF/MP4/WebM comments may come from other tools). */
function embeddedTexts(bytes: Uint8Array): string[] {
  if (isPng(bytes)) {
    const value = readPngTextChunks(bytes)[WORKFLOW_KEY];
    return value === undefined ? [] : [value];
  }
  if (isGif(bytes)) return readGifComments(bytes);
  const head = String.fromCharCode(...bytes.subarray(4, 8));
  if (head === 'ftyp') {
    const c = readMp4Comment(bytes);
    return c === undefined ? [] : [c];
  }
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) {
    const c = readMatroskaTag(bytes, 'COMMENT');
    return c === undefined ? [] : [c];
  }
  return [];
}

function parseObject(text: string): unknown | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
