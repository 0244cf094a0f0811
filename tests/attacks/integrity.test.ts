// Integrity that covers what runs (#18 item 3): the optimised-model cache is keyed by the source's sha256
// and checks its own bytes; the verified-files record and the validator cache ignore symlinks, files others
// can write and folders others can write.
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  commitCached,
  optimizedModelPath,
  sourceDigest,
  useCached,
} from '../../packages/core/src/backend/optimized-cache.js';
import { findPack, readManifest, verificationIdentity, verifyPackFiles } from '../../packages/nodes/src/model/pack.js';
import { markVerified, resetVerifiedForTests, saveVerified } from '../../packages/nodes/src/model/verified-record.js';

const scratch = mkdtempSync(join(tmpdir(), 'kg-integrity-'));
const savedCache = process.env.KINEGRAPH_CACHE;
afterEach(() => {
  if (savedCache === undefined) delete process.env.KINEGRAPH_CACHE;
  else process.env.KINEGRAPH_CACHE = savedCache;
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
const fresh = (name: string) => {
  const dir = join(scratch, `${name}-${n++}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
};

function flipByte(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(path, bytes);
}

describe('the optimised-model cache', () => {
  async function cachedEntry() {
    const root = fresh('ort-root');
    const dir = join(root, 'ort');
    mkdirSync(dir, { mode: 0o700 });
    const model = new Uint8Array(4096).map((_, i) => i % 251);
    const path = optimizedModelPath(dir, `sha256:${await sourceDigest(model)}`, 'test');
    const temporary = `${path}.tmp`;
    writeFileSync(temporary, model);
    await commitCached(temporary, path);
    return { root, dir, path };
  }

  it('is keyed by the sha256 of the source bytes, not by its path', async () => {
    const a = join(fresh('src'), 'model.onnx');
    writeFileSync(a, 'weights A');
    const keyA = await sourceDigest(a);
    writeFileSync(a, 'weights B'); // same path, same size, other bytes
    expect(await sourceDigest(a)).not.toBe(keyA);
    expect(await sourceDigest(new TextEncoder().encode('weights B'))).toBe(await sourceDigest(a));
  });

  it('loads an entry only while its bytes match the digest written with it', async () => {
    const { path } = await cachedEntry();
    expect(await useCached(path)).toBe(true);
    flipByte(path, 2000); // tampered weights, same size
    expect(await useCached(path)).toBe(false);
    expect(readdirSync(join(path, '..'))).toEqual([]); // deleted with its record, to be made afresh
  });

  it('ignores an entry that others may write, that is a symlink, or whose folder others may write', async () => {
    const writable = await cachedEntry();
    chmodSync(writable.path, 0o666);
    expect(await useCached(writable.path)).toBe(false);

    const linked = await cachedEntry();
    const elsewhere = join(fresh('elsewhere'), 'x.onnx');
    cpSync(linked.path, elsewhere);
    rmSync(linked.path);
    symlinkSync(elsewhere, linked.path);
    expect(await useCached(linked.path)).toBe(false);

    const open = await cachedEntry();
    chmodSync(open.dir, 0o777);
    expect(await useCached(open.path)).toBe(false);
  });
});

describe('the verified-files record', () => {
  // A tampered stunet.onnx and a forged record entry claiming it was verified as it is now.
  async function forgedPack() {
    const pack = join(fresh('pack'), 'kinegraph-tiny');
    cpSync(await findPack('kinegraph-tiny'), pack, { recursive: true });
    const stunet = join(pack, 'stunet.onnx');
    flipByte(stunet, 5000);
    const manifest = await readManifest(pack);
    const entry = manifest.files.find((f) => f.path === 'stunet.onnx')!;
    const { statSync } = await import('node:fs');
    process.env.KINEGRAPH_CACHE = fresh('cache');
    resetVerifiedForTests();
    markVerified(stunet, verificationIdentity(statSync(stunet), entry.sha256));
    await saveVerified();
    resetVerifiedForTests();
    const record = join(process.env.KINEGRAPH_CACHE, 'verified', 'verified-files.json');
    return { pack, manifest, record, root: process.env.KINEGRAPH_CACHE };
  }

  it('a forged entry in a record others may write is ignored: the tampered file is MODEL_FILE_CORRUPT', async () => {
    const { pack, manifest, record } = await forgedPack();
    chmodSync(record, 0o666);
    await expect(verifyPackFiles(pack, manifest)).rejects.toMatchObject({ code: 'MODEL_FILE_CORRUPT' });
  });

  it('a record reached through a symlink, or in a folder others may write, is ignored too', async () => {
    const linked = await forgedPack();
    const moved = join(fresh('moved'), 'verified-files.json');
    cpSync(linked.record, moved);
    rmSync(linked.record);
    symlinkSync(moved, linked.record);
    await expect(verifyPackFiles(linked.pack, linked.manifest)).rejects.toMatchObject({ code: 'MODEL_FILE_CORRUPT' });

    const open = await forgedPack();
    chmodSync(join(open.root, 'verified'), 0o777);
    await expect(verifyPackFiles(open.pack, open.manifest)).rejects.toMatchObject({ code: 'MODEL_FILE_CORRUPT' });
  });

  it('(the same forged entry in a private record is what "verified" means: the user\u2019s own cache)', async () => {
    const { pack, manifest } = await forgedPack();
    await expect(verifyPackFiles(pack, manifest)).resolves.toBeUndefined();
  });
});

describe('the validator cache', () => {
  it('does not run code reached through a symlink into a folder others may write', async () => {
    const root = fresh('ajv-cache');
    process.env.KINEGRAPH_CACHE = root;
    vi.resetModules();
    const { validatorFor } = await import('../../packages/core/src/validate/ajv.js');
    const { Type } = await import('@sinclair/typebox');
    const schema = Type.Object({ n: Type.Integer({ minimum: 3 }) });
    validatorFor(schema);
    const [file] = readdirSync(join(root, 'ajv'));
    // The attacker's folder, writable by all, with code under the cache entry's name.
    const evil = fresh('evil');
    chmodSync(evil, 0o777);
    writeFileSync(join(evil, file!), 'globalThis.__kinegraphPwned = true; module.exports = () => true;', {
      mode: 0o644,
    });
    rmSync(join(root, 'ajv'), { recursive: true });
    symlinkSync(evil, join(root, 'ajv'));
    vi.resetModules();
    const fresher = (await import('../../packages/core/src/validate/ajv.js')).validatorFor;
    const validate = fresher(schema);
    expect((globalThis as { __kinegraphPwned?: boolean }).__kinegraphPwned).toBeUndefined();
    expect(validate({ n: 1 })).toBe(false);
  });
});
