import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { gaussianNoise } from '../tensor/random.js';
import type { TensorHandle } from '../tensor/types.js';
import { createTestStore, expectClose } from '../testing/index.js';
import type { ManagedTensorStore } from '../worker/client.js';
import { TensorOps } from './tensor-ops.js';

let store: ManagedTensorStore;
let ops: TensorOps;
beforeAll(async () => {
  store = await createTestStore();
  ops = new TensorOps(store);
});
afterAll(async () => {
  await store?.close();
});

const up = (values: number[], dims: number[]) => store.upload(Float32Array.from(values), dims);
const read = async (h: TensorHandle) => Array.from((await store.read(h)) as Float32Array);
const seq = (n: number, f = (i: number) => i) => Array.from({ length: n }, (_, i) => f(i));

/** ONNX Resize, nearest, half_pixel, round_prefer_floor, over the last two axes of [1, 1, H, W]. */
function nearestRef(src: number[], h: number, w: number, oh: number, ow: number): number[] {
  const index = (o: number, inSize: number, outSize: number) => {
    const x = (o + 0.5) * (inSize / outSize) - 0.5;
    const r = x - Math.floor(x) === 0.5 ? Math.floor(x) : Math.round(x);
    return Math.min(Math.max(r, 0), inSize - 1);
  };
  const out: number[] = [];
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out.push(src[index(y, h, oh) * w + index(x, w, ow)]!);
  return out;
}

describe('TensorOps numerics', () => {
  test('cfgMix, lerp, axpby and scale match the JS formulas', async () => {
    const u = seq(6, (i) => i - 2);
    const c = seq(6, (i) => 3 * i + 1);
    const [hu, hc] = await Promise.all([up(u, [1, 2, 3]), up(c, [1, 2, 3])]);
    const mix = await ops.cfgMix(hu, hc, 7.5);
    expectClose(
      await read(mix),
      u.map((x, i) => x + 7.5 * (c[i]! - x)),
      1e-4,
    );
    const l = await ops.lerp(hu, hc, 0.25);
    expectClose(
      await read(l),
      u.map((x, i) => x + 0.25 * (c[i]! - x)),
    );
    const ab = await ops.axpby(0.9, hu, -0.3, hc);
    expectClose(
      await read(ab),
      u.map((x, i) => 0.9 * x - 0.3 * c[i]!),
    );
    const s = await ops.scale(hc, -2);
    expectClose(
      await read(s),
      c.map((x) => -2 * x),
    );
    for (const h of [hu, hc, mix, l, ab, s]) store.release(h);
  });

  test('add/sub/mul/div broadcast like numpy', async () => {
    const a = await up([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = await up([10, 20, 30], [3]);
    const results = await Promise.all([ops.add(a, b), ops.sub(a, b), ops.mul(a, b), ops.div(a, b)]);
    const [sum, diff, prod, quot] = await Promise.all(results.map(read));
    expect(sum).toEqual([11, 22, 33, 14, 25, 36]);
    expect(diff).toEqual([-9, -18, -27, -6, -15, -24]);
    expect(prod).toEqual([10, 40, 90, 40, 100, 180]);
    expectClose(quot!, [0.1, 0.1, 0.1, 0.4, 0.25, 0.2]);
    for (const h of [a, b, ...results]) store.release(h);
  });

  test('concat, slice and chunk', async () => {
    const a = await up(seq(6), [2, 3]);
    const b = await up(
      seq(6, (i) => 10 + i),
      [2, 3],
    );
    const c0 = await ops.concat([a, b], 0);
    expect(c0.dims).toEqual([4, 3]);
    expect(await read(c0)).toEqual([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]);
    const c1 = await ops.concat([a, b, a], -1);
    expect(c1.dims).toEqual([2, 9]);
    expect(await read(c1)).toEqual([0, 1, 2, 10, 11, 12, 0, 1, 2, 3, 4, 5, 13, 14, 15, 3, 4, 5]);
    const s = await ops.slice(c0, 1, 1, 3);
    expect(s.dims).toEqual([4, 2]);
    expect(await read(s)).toEqual([1, 2, 4, 5, 11, 12, 14, 15]);
    const tail = await ops.slice(c0, 0, -1, 4);
    expect(await read(tail)).toEqual([13, 14, 15]);
    const [first, second] = await ops.chunk(c0, 2);
    expect(await read(first!)).toEqual(seq(6));
    expect(await read(second!)).toEqual(seq(6, (i) => 10 + i));
    await expect(ops.chunk(c0, 3)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    for (const h of [a, b, c0, c1, s, tail, first!, second!]) store.release(h);
  });

  test('where with bool and float masks, broadcasting', async () => {
    const a = await up(seq(6), [2, 3]);
    const b = await up(
      seq(6, (i) => -i),
      [2, 3],
    );
    const mask = await store.upload(Uint8Array.from([1, 0, 1]), [3], 'bool');
    const w1 = await ops.where(mask, a, b);
    expect(await read(w1)).toEqual([0, -1, 2, 3, -4, 5]);
    const fmask = await up([0, 0.5, 0, 2, 0, 0], [2, 3]);
    const w2 = await ops.where(fmask, a, b);
    expect(await read(w2)).toEqual([-0, 1, -2, 3, -4, -5]);
    for (const h of [a, b, mask, w1, fmask, w2]) store.release(h);
  });

  test('resize: nearest matches the ONNX half-pixel reference; linear interpolates; 5-D space-time', async () => {
    const src = seq(12, (i) => i * i);
    const img = await up(src, [1, 1, 3, 4]);
    for (const [oh, ow] of [
      [6, 8],
      [2, 2],
      [5, 3],
    ] as const) {
      const r = await ops.resize(img, [oh, ow]);
      expect(r.dims).toEqual([1, 1, oh, ow]);
      expect(await read(r)).toEqual(nearestRef(src, 3, 4, oh, ow));
      store.release(r);
    }
    // Whole factors take the broadcast path; it must give exactly what ONNX Resize gives.
    const rect = seq(2 * 3 * 5, (i) => (i * 7919) % 31);
    const rectImg = await up(rect, [2, 1, 3, 5]);
    for (const [oh, ow] of [
      [6, 15],
      [3, 10],
      [24, 40],
      [3, 5],
    ] as const) {
      const r = await ops.resize(rectImg, [oh, ow]);
      expect(r.dims).toEqual([2, 1, oh, ow]);
      const got = await read(r);
      for (const b of [0, 1])
        expect(got.slice(b * oh * ow, (b + 1) * oh * ow)).toEqual(
          nearestRef(rect.slice(b * 15, (b + 1) * 15), 3, 5, oh, ow),
        );
      store.release(r);
    }
    const clip = await up(seq(2 * 3 * 2), [1, 1, 2, 3, 2]); // [B, C, F, H, W]: frames repeat too
    const clipUp = await ops.resize(clip, [4, 6, 2]);
    const frame = (f: number) =>
      nearestRef(
        seq(6, (i) => f * 6 + i),
        3,
        2,
        6,
        2,
      );
    expect(await read(clipUp)).toEqual([...frame(0), ...frame(0), ...frame(1), ...frame(1)]);
    const ramp = await up([0, 1], [1, 1, 1, 2]);
    const lin = await ops.resize(ramp, [1, 4], 'linear');
    expectClose(await read(lin), [0, 0.25, 0.75, 1]);
    const video = await up(seq(2 * 2 * 3 * 4), [1, 2, 2, 3, 4]); // [B, C, F, H, W]
    const spatial = await ops.resize(video, [6, 8]);
    expect(spatial.dims).toEqual([1, 2, 2, 6, 8]);
    const spaceTime = await ops.resize(video, [4, 6, 8], 'linear');
    expect(spaceTime.dims).toEqual([1, 2, 4, 6, 8]);
    const ones = await up(
      seq(2 * 3 * 4, () => 1),
      [1, 1, 2, 3, 4],
    );
    const onesUp = await ops.resize(ones, [4, 6, 8], 'linear');
    expectClose(
      await read(onesUp),
      seq(4 * 6 * 8, () => 1),
    );
    for (const h of [img, rectImg, clip, clipUp, ramp, lin, video, spatial, spaceTime, ones, onesUp]) store.release(h);
  });

  test('randn uploads the seeded JS noise', async () => {
    const n = await ops.randn([2, 3, 5], 1234);
    expect(n.dims).toEqual([2, 3, 5]);
    expect(await read(n)).toEqual(Array.from(gaussianNoise(30, 1234)));
    store.release(n);
  });

  test('a sampling loop reuses cached sessions and moves 0 bytes to JS', async () => {
    const live0 = store.stats().liveTensors;
    let x = await ops.randn([2, 4, 8, 8], 1);
    const cond = await ops.randn([2, 4, 8, 8], 2);
    const uncond = await ops.randn([2, 4, 8, 8], 3);
    const warm = await ops.cfgMix(uncond, cond, 5);
    store.release(warm);
    await ops.axpby(1, x, 0, x).then((h) => store.release(h));
    const before = { store: store.stats(), ops: ops.stats() };
    for (let step = 0; step < 10; step++) {
      const eps = await ops.cfgMix(uncond, cond, 5 + step); // a different scale each step: still one session
      const next = await ops.axpby(0.9, x, -0.1, eps);
      store.release(eps);
      store.release(x);
      x = next;
    }
    const after = { store: store.stats(), ops: ops.stats() };
    expect(after.store.bytesToJs).toBe(before.store.bytesToJs);
    expect(after.ops.graphsBuilt).toBe(before.ops.graphsBuilt);
    expect(after.store.sessions).toBe(before.store.sessions);
    expect(after.ops.runs - before.ops.runs).toBe(20);
    for (const h of [x, cond, uncond]) store.release(h);
    expect(store.stats().liveTensors).toBe(live0);
  });
});
