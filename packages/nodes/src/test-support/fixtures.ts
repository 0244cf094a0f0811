/** Writes small media fixtures into a test's temp folder (generated, never committed). */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeVideoFile } from '../media/ffmpeg-video.js';
import { encodeGif } from '../media/gif.js';
import { encodePng } from '../media/png.js';
import { squareFrame, squareFrames } from './synthetic.js';

/** Frame 0 of the moving square as a PNG; returns the path. */
export async function writeSquarePng(folder: string, name: string, w = 32, h = 32, frame = 0): Promise<string> {
  const path = join(folder, name);
  await writeFile(path, encodePng(squareFrame(frame, w, h)));
  return path;
}

/** The moving square as a GIF at `fps`; returns the path. */
export async function writeSquareGif(
  folder: string,
  name: string,
  frames = 8,
  w = 32,
  h = 32,
  fps = 10,
): Promise<string> {
  const path = join(folder, name);
  await writeFile(path, encodeGif({ width: w, height: h, frames: squareFrames(frames, w, h), fps }));
  return path;
}

/** The moving square as an MP4 (needs ffmpeg); returns the path. */
export async function writeSquareMp4(
  folder: string,
  name: string,
  frames = 8,
  w = 32,
  h = 32,
  fps = 10,
): Promise<string> {
  const path = join(folder, name);
  await encodeVideoFile({
    format: 'mp4',
    clip: { width: w, height: h, frames: squareFrames(frames, w, h), fps },
    outPath: path,
    crf: 18,
  });
  return path;
}
