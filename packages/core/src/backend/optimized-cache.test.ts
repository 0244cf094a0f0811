import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { buildGraph } from '../graph/builder.js';
import { createTestStore, expectClose } from '../testing/index.js';
import type { ManagedTensorStore } from '../worker/client.js';
import { MAX_FILES, optimizedCacheDir } from './optimized-cache.js';

/** A model over the 1 MiB line (what gets cached): y = (x + w)·2 + 1 with a 300,000-value weight. */
const N = 300_000;
const weights = Float32Array.from({ length: N }, (_, i) => (i % 7) / 7);
const big = buildGraph('big', (g) => {
  const x = g.input('x', 'float32', [N]);
  const w = g.constant(weights, [N], 'float32', 'w');
  g.output('y', g.add(g.mul(g.add(x, w), 2), 1));
});

const stores: ManagedTensorStore[] = [];
async function freshStore(cacheSetting: string): Promise<ManagedTensorStore> {
  // The worker reads its environment when it starts.
  process.env.KINEGRAPH_ORT_CACHE = cacheSetting;
  const store = await createTestStore();
  stores.push(store);
  return store;
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  delete process.env.KINEGRAPH_ORT_CACHE;
});

async function runBig(store: ManagedTensorStore, path: string): Promise<Float32Array> {
  const model = await store.loadModel(path);
  const x = await store.upload(
    Float32Array.from({ length: N }, (_, i) => i / N),
    [N],
  );
  const out = await store.run(model, { x });
  const y = (await store.read(out.y!)) as Float32Array;
  store.release(x);
  store.release(out.y!);
  return y;
}

const onnxFiles = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.onnx'));

describe('optimised-model cache: a fresh process skips graph optimisation', () => {
  test('the second store loads the optimised model from the cache, with the same results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-ortcache-'));
    const cache = join(dir, 'cache');
    const path = join(dir, 'big.onnx');
    writeFileSync(path, big.bytes);

    const first = await freshStore(cache);
    const y1 = await runBig(first, path);
    expect((await first.inspectWorker()).optimizedCacheHits).toBe(0);
    expect(onnxFiles(cache)).toHaveLength(1);
    expect(readdirSync(cache).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    const second = await freshStore(cache);
    const y2 = await runBig(second, path);
    expect((await second.inspectWorker()).optimizedCacheHits).toBe(1);
    expectClose(y2, y1, 0);
    expectClose(y1.subarray(0, 3), [1, 1 + 2 / 7 + 2 / N, 1 + 4 / 7 + 4 / N], 1e-5);
  });

  test('a damaged cache file is replaced, not trusted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-ortcache-'));
    const cache = join(dir, 'cache');
    const path = join(dir, 'big.onnx');
    writeFileSync(path, big.bytes);
    const reference = await runBig(await freshStore(cache), path);
    const [file] = onnxFiles(cache);
    writeFileSync(join(cache, file!), 'not a model');

    const recovering = await freshStore(cache);
    expectClose(await runBig(recovering, path), reference, 0);
    expect((await recovering.inspectWorker()).optimizedCacheHits).toBe(0);
    const after = await freshStore(cache);
    expectClose(await runBig(after, path), reference, 0);
    expect((await after.inspectWorker()).optimizedCacheHits).toBe(1);
  });

  test('a changed model file is a new entry; small models and KINEGRAPH_ORT_CACHE=off write nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kg-ortcache-'));
    const cache = join(dir, 'cache');
    const path = join(dir, 'big.onnx');
    writeFileSync(path, big.bytes);
    await runBig(await freshStore(cache), path);
    writeFileSync(path, new Uint8Array([...big.bytes, 0x3a, 0x00])); // same model, one more (empty) graph field: new size
    const changed = await freshStore(cache);
    await runBig(changed, path);
    expect((await changed.inspectWorker()).optimizedCacheHits).toBe(0);
    expect(onnxFiles(cache)).toHaveLength(2);

    const small = buildGraph('small', (g) => g.output('y', g.add(g.input('x', 'float32', [2]), 1)));
    await (await freshStore(cache)).loadModel(small.bytes);
    expect(onnxFiles(cache)).toHaveLength(2);

    // Off: not even the default folder (under XDG_CACHE_HOME) is created.
    const xdg = join(dir, 'xdg');
    process.env.XDG_CACHE_HOME = xdg;
    try {
      await runBig(await freshStore('off'), path);
    } finally {
      delete process.env.XDG_CACHE_HOME;
    }
    expect(() => readdirSync(xdg)).toThrow();
    expect(optimizedCacheDir({ KINEGRAPH_ORT_CACHE: 'off' })).toBeUndefined();
    expect(optimizedCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/kinegraph/ort');
    expect(optimizedCacheDir({ KINEGRAPH_CACHE: '/c' })).toBe('/c/ort');
    expect(optimizedCacheDir({ KINEGRAPH_CACHE: 'off' })).toBeUndefined();
    expect(optimizedCacheDir({ KINEGRAPH_CACHE: 'off', KINEGRAPH_ORT_CACHE: '/o' })).toBe('/o');
    expect(MAX_FILES).toBeGreaterThan(8);
  });
});
