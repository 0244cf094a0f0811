/**
 * Reads ground-truth clip sets written by render_truth.py: `<prefix>.json` (captions, attributes) and
 * `<prefix>.u8.gz` (uint8 RGB [clip][frame][y][x][rgb]). The committed set is tests/quality/fixtures/truth.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  type BackgroundName,
  type Clip,
  type ColourName,
  clipFromRgb8,
  type MotionName,
  type ShapeName,
} from './analyze.js';

export interface TruthClip {
  readonly caption: string;
  readonly shape: ShapeName;
  readonly colour: ColourName;
  readonly motion: MotionName;
  readonly background: BackgroundName;
  readonly heldOut: boolean;
  readonly clip: Clip;
}

interface TruthHeader {
  frames: number;
  height: number;
  width: number;
  channels: number;
  clips: Array<Omit<TruthClip, 'clip'>>;
}

export const TRUTH_FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'truth');
/** Six clips of the shipped pack's untrained STUNet (speckle): the reader must find no object in them. */
export const UNTRAINED_FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'untrained');

export function loadTruth(prefix = TRUTH_FIXTURE): TruthClip[] {
  const header = JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as TruthHeader;
  const bytes = new Uint8Array(gunzipSync(readFileSync(`${prefix}.u8.gz`)));
  const per = header.frames * header.height * header.width * header.channels;
  if (header.channels !== 3 || bytes.length !== per * header.clips.length) {
    throw new Error(
      `${prefix}: ${bytes.length} bytes for ${header.clips.length} clips of ${per}; re-run render_truth.py`,
    );
  }
  return header.clips.map((meta, i) => ({
    ...meta,
    clip: clipFromRgb8(bytes, header.frames, header.height, header.width, i * per),
  }));
}

/**
 * Writes clips in the same format (so generated clips can be re-analysed with loadTruth, or viewed):
 * every clip must have the same frames × height × width.
 */
export function saveClips(
  prefix: string,
  entries: ReadonlyArray<{ readonly meta: Record<string, unknown>; readonly clip: Clip }>,
): void {
  const first = entries[0]?.clip;
  if (!first) return;
  const per = first.frames * first.height * first.width * 3;
  const bytes = new Uint8Array(per * entries.length);
  entries.forEach(({ clip }, i) => {
    if (clip.rgb.length !== per) throw new Error('saveClips: clips differ in size');
    for (let j = 0; j < per; j++) bytes[i * per + j] = Math.round(Math.min(1, Math.max(0, clip.rgb[j]!)) * 255);
  });
  mkdirSync(dirname(prefix), { recursive: true });
  const header = {
    frames: first.frames,
    height: first.height,
    width: first.width,
    channels: 3,
    generator: 'tests/quality/evaluate.ts',
    clips: entries.map((e) => e.meta),
  };
  writeFileSync(`${prefix}.json`, `${JSON.stringify(header, null, 0)}\n`);
  writeFileSync(`${prefix}.u8.gz`, gzipSync(bytes, { level: 9 }));
}
