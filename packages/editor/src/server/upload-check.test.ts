// The upload structure check on real files (made by ffmpeg, as users' files are): whole files pass with
// their declared size; every one of them cut short is refused.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkMedia, MediaCheckError } from './upload-check.js';

const ffmpeg = spawnSync('ffmpeg', ['-version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'kg-upload-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function make(name: string, args: string[]): Buffer {
  const path = join(dir, name);
  const r = spawnSync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=160x120:rate=10',
    ...args,
    path,
  ]);
  expect(r.status, String(r.stderr)).toBe(0);
  return readFileSync(path);
}

describe.skipIf(!ffmpeg)('checkMedia on files ffmpeg wrote', () => {
  it.each([
    ['a.mp4', ['-frames:v', '10', '-pix_fmt', 'yuv420p'], 'video/mp4', undefined],
    ['b.mp4', ['-frames:v', '10', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'], 'video/mp4', undefined],
    ['c.webm', ['-frames:v', '10', '-c:v', 'libvpx-vp9'], 'video/webm', undefined],
    ['d.webm', ['-frames:v', '10', '-c:v', 'libvpx'], 'video/webm', undefined],
    ['e.jpg', ['-frames:v', '1'], 'image/jpeg', 1],
    ['f.png', ['-frames:v', '1'], 'image/png', 1],
    ['g.gif', ['-frames:v', '5'], 'image/gif', 5],
  ] as const)('%s passes whole, with its size, and is refused cut short', (name, args, mime, frames) => {
    const bytes = make(name, [...args]);
    expect(checkMedia(bytes, 8192)).toMatchObject({ mime, width: 160, height: 120, ...(frames ? { frames } : {}) });
    expect(() => checkMedia(bytes.subarray(0, bytes.length - 40), 8192)).toThrow(MediaCheckError);
    expect(() => checkMedia(bytes, 100)).toThrow(/more than 100 on a side/);
  });
});
