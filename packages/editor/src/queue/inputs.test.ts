// Finding the files a run reads, so that a worker can fetch them.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectInputs, isSafeRelativePath, type NamedFolder } from './inputs.js';

let root: string;
let folders: NamedFolder[];
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kg-inputs-'));
  folders = ['workflows', 'inputs', 'outputs'].map((name) => ({ name, path: join(root, name) }));
  for (const f of folders) mkdirSync(f.path);
  writeFileSync(join(root, 'inputs', 'cat.png'), 'cat');
  writeFileSync(join(root, 'workflows', 'note.txt'), 'note');
  mkdirSync(join(root, 'inputs', 'frames'));
  for (const n of ['f1.png', 'f2.png', '.hidden']) writeFileSync(join(root, 'inputs', 'frames', n), n);
  for (const n of ['s0001.png', 's0002.png', 's0003.png', 's0005.png']) writeFileSync(join(root, 'inputs', n), n);
  mkdirSync(join(root, 'outputs', 'run-1'));
  writeFileSync(join(root, 'outputs', 'run-1', 'video.mp4'), 'video');
  writeFileSync(join(root, 'secret.txt'), 'secret');
  symlinkSync(join(root, 'secret.txt'), join(root, 'inputs', 'escape.txt'));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const workflow = (params: Record<string, unknown>) => ({ nodes: { n: { params } } });

describe('a run\u2019s input files', () => {
  it('finds files named by relative and absolute paths, anywhere in the params', async () => {
    const found = await collectInputs(
      workflow({ image: 'cat.png', list: [{ deep: 'run-1/video.mp4' }], abs: join(root, 'workflows', 'note.txt') }),
      folders,
    );
    expect(found.files).toEqual([
      { folder: 'inputs', path: 'cat.png', size: 3, sha256: sha('cat') },
      { folder: 'outputs', path: 'run-1/video.mp4', size: 5, sha256: sha('video') },
      { folder: 'workflows', path: 'note.txt', size: 4, sha256: sha('note') },
    ]);
    expect(found.absolute).toEqual([{ pointer: '/nodes/n/params/abs', folder: 'workflows', path: 'note.txt' }]);
  });

  it('takes a folder\u2019s visible files, and the numbered frames after a numbered PNG', async () => {
    const found = await collectInputs(workflow({ a: 'frames', b: 's0002.png' }), folders);
    expect(found.files.map((f) => f.path)).toEqual(['frames/f1.png', 'frames/f2.png', 's0002.png', 's0003.png']);
  });

  it('ignores prompts, missing files, and anything outside the readable folders', async () => {
    const found = await collectInputs(
      workflow({ prompt: 'a red circle', missing: 'nope.png', outside: join(root, 'secret.txt'), link: 'escape.txt' }),
      folders,
    );
    expect(found).toEqual({ files: [], absolute: [] });
  });

  it('refuses runs past the limits with RUN_INPUTS_TOO_LARGE', async () => {
    const limits = { files: 2, fileBytes: 4, totalBytes: 6 };
    const tooLarge = expect.objectContaining({ status: 413, code: 'RUN_INPUTS_TOO_LARGE' });
    await expect(collectInputs(workflow({ a: 'frames', b: 'cat.png' }), folders, limits)).rejects.toEqual(tooLarge);
    await expect(collectInputs(workflow({ a: 'run-1/video.mp4' }), folders, limits)).rejects.toEqual(tooLarge);
    await expect(collectInputs(workflow({ a: 'cat.png', b: 'note.txt' }), folders, limits)).rejects.toEqual(tooLarge);
    expect((await collectInputs(workflow({ a: 'cat.png' }), folders, limits)).files).toHaveLength(1);
  });

  it('accepts only plain relative paths from a peer', () => {
    expect(isSafeRelativePath('a/b.png')).toBe(true);
    for (const bad of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', '.hidden', 'a\\b', 'a\0b'])
      expect(isSafeRelativePath(bad)).toBe(false);
  });
});
