/**
 * Media files made by the system ffmpeg for tests, as users' files are made: its `testsrc` pattern,
 * encoded as the arguments say. Generated into the test's temp folder, never committed.
 */
import { spawnSync } from 'node:child_process';

/** Whether this machine has `ffmpeg` (CI installs it; tests that need it skip without it). */
export const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

/**
 * Writes ffmpeg's test pattern of `size` (`160x120`) at `rate` frames a second to `path`, with `args`
 * (frame count, codec, pixel format, container) before the output; returns `path`. Throws with ffmpeg's
 * message when it fails.
 */
export function writeTestsrc(path: string, size: string, rate: number, args: readonly string[]): string {
  const r = spawnSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=${size}:rate=${rate}`,
    ...args,
    path,
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg could not write ${path} (exit ${r.status}): ${String(r.stderr)}`);
  return path;
}
