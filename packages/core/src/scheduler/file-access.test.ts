import { mkdir, mkdtemp, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileAccess } from './file-access.js';

async function sandbox() {
  const root = await mkdtemp(join(tmpdir(), 'kg-files-'));
  const allowed = join(root, 'allowed');
  const secret = join(root, 'secret');
  await mkdir(allowed);
  await mkdir(secret);
  await writeFile(join(allowed, 'in.txt'), 'hello');
  await writeFile(join(secret, 'key.txt'), 'secret');
  await symlink(join(secret, 'key.txt'), join(allowed, 'link.txt'));
  const files = createFileAccess({ allowedFolders: [allowed], outputFolder: join(root, 'out'), nodeId: 'n1' });
  return { root, allowed, secret, files };
}

const code = async (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  );

describe('file sandbox', () => {
  it('reads inside the allowed folders', async () => {
    const { files } = await sandbox();
    expect(new TextDecoder().decode(await files.read('in.txt'))).toBe('hello');
  });

  it('refuses ../ escapes, absolute paths outside, symlinks pointing out and NUL bytes', async () => {
    const { files, secret } = await sandbox();
    expect(await code(files.read('../secret/key.txt'))).toBe('PATH_OUTSIDE_ALLOWED');
    expect(await code(files.read(join(secret, 'key.txt')))).toBe('PATH_OUTSIDE_ALLOWED');
    expect(await code(files.read('link.txt'))).toBe('PATH_OUTSIDE_ALLOWED');
    expect(await code(files.read('in.txt\0.png'))).toBe('PATH_INVALID');
    expect(await code(files.read('missing.txt'))).toBe('FILE_NOT_FOUND');
    const error = await files.read('../secret/key.txt').catch((e: { hint: string; nodeId: string }) => e);
    expect((error as { nodeId: string }).nodeId).toBe('n1');
  });

  it('writes outputs atomically and refuses names with folders', async () => {
    const { files, root } = await sandbox();
    const path = await files.writeOutput('video.gif', new Uint8Array([1, 2, 3]));
    expect(path).toBe(join(root, 'out', 'video.gif'));
    expect(files.written).toEqual([path]);
    expect(await code(files.writeOutput('../escape.gif', new Uint8Array(1)))).toBe('PATH_INVALID');
    expect(await code(files.writeOutput('a/b.gif', new Uint8Array(1)))).toBe('PATH_INVALID');
    // A writer that fails half-way leaves no file behind, not even its temporary one.
    await expect(
      files.writeOutput('broken.mp4', async (tmp) => {
        await writeFile(tmp, 'half');
        throw new Error('encoder crashed');
      }),
    ).rejects.toThrow('encoder crashed');
    expect((await readdir(join(root, 'out'))).sort()).toEqual(['video.gif']);
  });
});
