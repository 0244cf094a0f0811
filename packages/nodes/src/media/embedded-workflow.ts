/**
 * Where VideoEncode and SaveImage put the workflow in the files they write, and how to find it again: the
 * library's {@link workflowTextReader}, contributed to hosts through the plugin (`workflowReaders`). What
 * the text must be (a `kinegraph/workflow@1` object of bounded depth) is core's to decide.
 */
import { readFile } from 'node:fs/promises';
import { readEmbeddedWorkflow as readWithReaders } from '@kinegraph/core';
import type { EmbeddedTexts, WorkflowTextReader } from '@kinegraph/core/sdk';
import { readMatroskaTag, readMp4Comment, readPngTextChunks } from './containers.js';
import { isGif, readGifComments } from './gif.js';
import { isPng } from './png.js';
import { WORKFLOW_KEY } from './workflow-text.js';

/**
 * Finds the embedded workflow text in a PNG (tEXt `kinegraph-workflow`, a tag only Kinegraph writes), GIF
 * (Comment Extensions), MP4 (`comment` tag) or WebM (`COMMENT` tag). Pure JS, no pictures decoded, no
 * ffprobe: safe to run on an upload.
 */
export const workflowTextReader: WorkflowTextReader = {
  name: 'PNG/GIF/MP4/WebM',
  read(bytes: Uint8Array): EmbeddedTexts | undefined {
    if (isPng(bytes)) {
      const value = readPngTextChunks(bytes)[WORKFLOW_KEY];
      return { texts: value === undefined ? [] : [value], ownTag: true };
    }
    if (isGif(bytes)) return { texts: readGifComments(bytes), ownTag: false };
    if (bytes.length >= 8 && String.fromCharCode(...bytes.subarray(4, 8)) === 'ftyp') {
      const c = readMp4Comment(bytes);
      return { texts: c === undefined ? [] : [c], ownTag: false };
    }
    if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) {
      const c = readMatroskaTag(bytes, 'COMMENT');
      return { texts: c === undefined ? [] : [c], ownTag: false };
    }
    return undefined;
  },
};

/**
 * The workflow embedded in a file this library wrote, or `undefined`; `EMBEDDED_WORKFLOW_INVALID` when
 * the PNG tag is damaged. For code that already imports the library (its tests, scripts); hosts use
 * `Runtime.readEmbeddedWorkflow`, which finds this reader through the plugin.
 *
 * @param source File bytes, or a path the caller is allowed to read (nodes pass bytes from
 *   `context.files.read`).
 */
export async function readEmbeddedWorkflow(source: Uint8Array | string): Promise<Record<string, unknown> | undefined> {
  const bytes = typeof source === 'string' ? new Uint8Array(await readFile(source)) : source;
  return readWithReaders(bytes, [workflowTextReader]);
}
