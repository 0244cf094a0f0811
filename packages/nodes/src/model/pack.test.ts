import { cp, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPack, readManifest, verifyPackFiles } from './pack.js';

describe('verifyPackFiles', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kg-pack-verify-'));
    const shipped = await findPack('kinegraph-tiny');
    await cp(shipped, join(dir, 'copy'), { recursive: true });
    await cp(shipped, join(dir, 'copy2'), { recursive: true });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('still notices a same-size overwrite after the file was verified once (the re-hash is skipped only for an untouched file)', async () => {
    const pack = join(dir, 'copy');
    const manifest = await readManifest(pack);
    await verifyPackFiles(pack, manifest);
    await verifyPackFiles(pack, manifest); // remembered: no error, no re-hash
    const handle = await open(join(pack, 'stunet.onnx'), 'r+');
    try {
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 5000);
      byte[0] = byte[0]! ^ 0xff;
      await handle.write(byte, 0, 1, 5000);
    } finally {
      await handle.close();
    }
    await expect(verifyPackFiles(pack, manifest)).rejects.toMatchObject({ code: 'MODEL_FILE_CORRUPT', message: expect.stringContaining('stunet.onnx') });
  });

  it('checks again when the manifest expects another digest', async () => {
    const pack = join(dir, 'copy2');
    const manifest = await readManifest(pack);
    await verifyPackFiles(pack, manifest);
    const edited = { ...manifest, files: manifest.files.map((f) => (f.path === 'text_encoder.onnx' ? { ...f, sha256: '0'.repeat(64) } : f)) };
    await expect(verifyPackFiles(pack, edited)).rejects.toMatchObject({ code: 'MODEL_FILE_CORRUPT', message: expect.stringContaining('text_encoder.onnx') });
  });
});
