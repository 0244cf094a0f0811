// The upload structure check on real files (made by ffmpeg, as users' files are): whole files pass with
// their declared size; every one of them cut short is refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasFfmpeg, writeTestsrc } from '../testing/ffmpeg.js';
import { checkMedia, MediaCheckError } from './upload-check.js';

const dir = mkdtempSync(join(tmpdir(), 'kg-upload-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const make = (name: string, args: string[]): Buffer => readFileSync(writeTestsrc(join(dir, name), '160x120', 10, args));

describe.skipIf(!hasFfmpeg)('checkMedia on files ffmpeg wrote', () => {
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
