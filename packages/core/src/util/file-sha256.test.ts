import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSha256 } from './file-sha256.js';

const dir = mkdtempSync(join(tmpdir(), 'kg-file-sha256-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fileSha256', () => {
  it.each([0, 1, 1 << 20, (1 << 20) * 2 + 17])('hashes a file of %i bytes as its whole content', async (size) => {
    const bytes = randomBytes(size);
    const path = join(dir, `f${size}`);
    writeFileSync(path, bytes);
    expect(await fileSha256(path)).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('rejects a missing file', async () => {
    await expect(fileSha256(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
