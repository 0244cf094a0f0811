import { cp, mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPack, readManifest, verificationIdentity, verifyPackFiles } from './pack.js';
import { markVerified, resetVerifiedForTests, saveVerified } from './verified-record.js';

describe('verifyPackFiles', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kg-pack-verify-'));
    const shipped = await findPack('kinegraph-tiny');
    await cp(shipped, join(dir, 'copy'), { recursive: true });
    await cp(shipped, join(dir, 'copy2'), { recursive: true });
    await cp(shipped, join(dir, 'copy3'), { recursive: true });
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
    await expect(verifyPackFiles(pack, manifest)).rejects.toMatchObject({
      code: 'MODEL_FILE_CORRUPT',
      message: expect.stringContaining('stunet.onnx'),
    });
  });

  it('checks again when the manifest expects another digest', async () => {
    const pack = join(dir, 'copy2');
    const manifest = await readManifest(pack);
    await verifyPackFiles(pack, manifest);
    const edited = {
      ...manifest,
      files: manifest.files.map((f) => (f.path === 'text_encoder.onnx' ? { ...f, sha256: '0'.repeat(64) } : f)),
    };
    await expect(verifyPackFiles(pack, edited)).rejects.toMatchObject({
      code: 'MODEL_FILE_CORRUPT',
      message: expect.stringContaining('text_encoder.onnx'),
    });
  });

  it('trusts what an earlier process verified while the file is untouched, on disk in KINEGRAPH_CACHE', async () => {
    const saved = process.env.KINEGRAPH_CACHE;
    process.env.KINEGRAPH_CACHE = join(dir, 'cache');
    try {
      const pack = join(dir, 'copy3');
      const manifest = await readManifest(pack);
      resetVerifiedForTests();
      await verifyPackFiles(pack, manifest);
      const record = JSON.parse(
        await readFile(join(dir, 'cache', 'verified', 'verified-files.json'), 'utf8'),
      ) as Record<string, string>;
      expect(Object.keys(record).sort()).toEqual(manifest.files.map((f) => join(pack, f.path)).sort());

      // A record saying the text encoder matched a digest it does not have: a new process believes it
      // (no hash), which shows the record is what spares the hashing...
      const encoder = join(pack, 'text_encoder.onnx');
      const wrong = {
        ...manifest,
        files: manifest.files.map((f) => (f.path === 'text_encoder.onnx' ? { ...f, sha256: 'f'.repeat(64) } : f)),
      };
      resetVerifiedForTests();
      markVerified(encoder, verificationIdentity(await stat(encoder), 'f'.repeat(64)));
      await saveVerified();
      resetVerifiedForTests();
      await verifyPackFiles(pack, wrong);
      // ...and once the file is touched (its ctime changes with any write or metadata change), it is
      // hashed again and refused.
      const handle = await open(encoder, 'r+');
      await handle.utimes(new Date(), new Date());
      await handle.close();
      resetVerifiedForTests();
      await expect(verifyPackFiles(pack, wrong)).rejects.toMatchObject({
        code: 'MODEL_FILE_CORRUPT',
        message: expect.stringContaining('text_encoder.onnx'),
      });
    } finally {
      if (saved === undefined) delete process.env.KINEGRAPH_CACHE;
      else process.env.KINEGRAPH_CACHE = saved;
      resetVerifiedForTests();
    }
  });

  it('keeps no record with KINEGRAPH_CACHE=off', async () => {
    const saved = process.env.KINEGRAPH_CACHE;
    process.env.KINEGRAPH_CACHE = 'off';
    try {
      resetVerifiedForTests();
      const pack = join(dir, 'copy2');
      await verifyPackFiles(pack, await readManifest(pack));
      expect(await readdir(dir)).not.toContain('off');
      expect(await readdir(process.cwd())).not.toContain('off');
    } finally {
      if (saved === undefined) delete process.env.KINEGRAPH_CACHE;
      else process.env.KINEGRAPH_CACHE = saved;
      resetVerifiedForTests();
    }
  });
});
