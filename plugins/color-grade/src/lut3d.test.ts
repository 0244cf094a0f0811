// Apply 3D LUT through a real Runtime: .cube parsing, the trilinear ONNX graph against a plain-JS
// reference, identity LUTs, domains, file access inside the allowed folders only, and no tensor leaks.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestRuntime, TestVideo } from '@kinegraph/core/testing';
import { capture, createTestRuntime, expectNoLeaks, gradientVideo, maxAbsDiff, source } from '@kinegraph/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lut3d } from './cube.js';
import { parseCube } from './cube.js';
import colorGrade from './index.js';

// Each run may read the runtime's `inputs` folder (where the tests write their .cube files) and nothing else.
let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({ plugins: [colorGrade] });
});
afterAll(async () => {
  await t?.close();
});

/** Writes a .cube whose entry (r, g, b) — indices in 0..n−1 — is `map(r/(n−1), g/(n−1), b/(n−1))`. */
function cubeText(n: number, map: (r: number, g: number, b: number) => [number, number, number], header = ''): string {
  const lines = ['# test LUT', 'TITLE "test"', header, `LUT_3D_SIZE ${n}`];
  for (let b = 0; b < n; b++)
    for (let g = 0; g < n; g++)
      for (let r = 0; r < n; r++)
        lines.push(
          map(r / (n - 1), g / (n - 1), b / (n - 1))
            .map((v) => v.toFixed(6))
            .join(' '),
        );
  return `${lines.join('\n')}\n`;
}

/** Trilinear lookup in plain JS, written from the textbook definition (weights of the 8 corners). */
function reference(video: TestVideo, lut: Lut3d, mix: number): Float32Array {
  const [b, , f, h, w] = video.tensor.dims;
  const data = video.tensor.data;
  const n = lut.size;
  const plane = f * h * w;
  const result = new Float32Array(data.length);
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < plane; i++) {
      const at = (c: number) => bi * 3 * plane + c * plane + i;
      const x = [0, 1, 2].map((c) => (data[at(c)]! + 1) / 2);
      const p = x.map(
        (v, c) => Math.min(Math.max((v - lut.domainMin[c]!) / (lut.domainMax[c]! - lut.domainMin[c]!), 0), 1) * (n - 1),
      );
      const i0 = p.map((v) => Math.min(Math.floor(v), n - 2));
      const t = p.map((v, c) => v - i0[c]!);
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let corner = 0; corner < 8; corner++) {
          const d = [corner & 1, (corner >> 1) & 1, (corner >> 2) & 1];
          const weight = d.reduce((acc, dk, k) => acc * (dk ? t[k]! : 1 - t[k]!), 1);
          const index = i0[0]! + d[0]! + (i0[1]! + d[1]!) * n + (i0[2]! + d[2]!) * n * n;
          sum += weight * lut.table[index * 3 + c]!;
        }
        const mixed = x[c]! + mix * (sum - x[c]!);
        result[at(c)] = Math.min(Math.max(mixed, 0), 1) * 2 - 1;
      }
    }
  }
  return result;
}

const clip = gradientVideo({ frames: 3, height: 7, width: 6, batch: 2 });

const applyLut = (params: Record<string, unknown>) => ({
  clip: source('video', clip),
  lut: { type: 'color-grade/lut3d', version: 1, params, inputs: { video: { node: 'clip', output: 'video' } } },
  out: capture('lut', 'video'),
});

// A non-linear, channel-mixing look: no interpolation scheme short of the right one matches it.
const look = (r: number, g: number, b: number): [number, number, number] => [
  Math.sqrt(r) * 0.8 + b * 0.2,
  g * g,
  0.5 * (r + b) + 0.1 * Math.sin(g * 5),
];

describe('parseCube', () => {
  it('reads size, title, domain and the table in red-fastest order', () => {
    const lut = parseCube(cubeText(2, (r, g, b) => [r, g, b], 'DOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 2 1'));
    expect(lut.size).toBe(2);
    expect(lut.title).toBe('test');
    expect(lut.domainMax).toEqual([1, 2, 1]);
    expect(Array.from(lut.table.subarray(0, 6))).toEqual([0, 0, 0, 1, 0, 0]); // (r=0) then (r=1) at g=b=0
  });

  it('names the line and the problem in LUT_INVALID', () => {
    expect(() => parseCube('1 2 3\n', 'a.cube')).toThrow(/a\.cube, line 1: table data before LUT_3D_SIZE/);
    expect(() => parseCube('LUT_3D_SIZE 2\n0 0\n', 'b.cube')).toThrow(/line 2: expected 3 numbers/);
    expect(() => parseCube('LUT_3D_SIZE 2\n0 0 0\n', 'c.cube')).toThrow(/expected 8 entries for size 2, found 1/);
    expect(() => parseCube('LUT_1D_SIZE 16\n')).toThrow(/1D LUTs are not supported/);
    expect(() => parseCube('LUT_3D_SIZE 1\n')).toThrow(expect.objectContaining({ code: 'LUT_INVALID' }));
  });
});

describe('color-grade/lut3d', () => {
  it('an identity LUT returns the input (trilinear reproduces linear maps exactly)', async () => {
    await writeFile(
      join(t.inputs, 'identity.cube'),
      cubeText(5, (r, g, b) => [r, g, b]),
    );
    const run = await t.run(applyLut({ path: 'identity.cube' }));
    expect(run.error).toBeUndefined();
    expect(maxAbsDiff(run.tensor('out').data, clip.tensor.data)).toBeLessThan(1e-5);
  });

  it.each([
    [2, 1],
    [5, 1],
    [17, 0.6],
  ])('matches the JS trilinear reference (size %i, mix %f)', async (n, mix) => {
    const text = cubeText(n, look);
    await writeFile(join(t.inputs, `look-${n}.cube`), text);
    const run = await t.run(applyLut({ path: `look-${n}.cube`, mix }));
    expect(run.error).toBeUndefined();
    const result = run.tensor('out');
    expect(result.dims).toEqual(clip.tensor.dims);
    expect(maxAbsDiff(result.data, reference(clip, parseCube(text), mix))).toBeLessThan(1e-5);
  });

  it('honours DOMAIN_MIN/DOMAIN_MAX', async () => {
    const text = cubeText(3, look, 'DOMAIN_MIN 0.1 0 0.2\nDOMAIN_MAX 0.9 1 0.7');
    await writeFile(join(t.inputs, 'domain.cube'), text);
    const run = await t.run(applyLut({ path: 'domain.cube' }));
    expect(run.error).toBeUndefined();
    expect(maxAbsDiff(run.tensor('out').data, reference(clip, parseCube(text), 1))).toBeLessThan(1e-5);
  });

  it('re-reads an edited file (the fingerprint changes) instead of reusing the cached output', async () => {
    await writeFile(
      join(t.inputs, 'edit.cube'),
      cubeText(2, (r, g, b) => [r, g, b]),
    );
    expect((await t.run(applyLut({ path: 'edit.cube' }))).error).toBeUndefined();
    // The source is keyed by its content, so only the file can make the LUT node run again.
    expect((await t.run(applyLut({ path: 'edit.cube' }))).events).toContainEqual(
      expect.objectContaining({ type: 'node:cached', nodeId: 'lut' }),
    );
    await writeFile(
      join(t.inputs, 'edit.cube'),
      cubeText(2, () => [0.5, 0.5, 0.5]),
    );
    const edited = await t.run(applyLut({ path: 'edit.cube' }));
    expect(edited.error).toBeUndefined();
    expect(edited.tensor('out').data.every((v) => Math.abs(v) < 1e-6)).toBe(true); // 0.5 grey is 0 in [-1, 1]
  });

  it('reports a broken file, a missing file and a file outside the allowed folders, naming the node', async () => {
    await writeFile(join(t.inputs, 'broken.cube'), 'LUT_3D_SIZE 2\n0 0 zero\n');
    expect((await t.run(applyLut({ path: 'broken.cube' }))).error).toMatchObject({
      code: 'LUT_INVALID',
      nodeId: 'lut',
    });
    expect((await t.run(applyLut({ path: 'nope.cube' }))).error).toMatchObject({
      code: 'FILE_NOT_FOUND',
      nodeId: 'lut',
    });
    await writeFile(join(t.root, 'secret.cube'), cubeText(2, look));
    expect((await t.run(applyLut({ path: join(t.root, 'secret.cube') }))).error).toMatchObject({
      code: 'PATH_OUTSIDE_ALLOWED',
      nodeId: 'lut',
    });
  });

  it('refuses a LUT table larger than its declaration allows when the run’s budget cannot hold it', async () => {
    // A 65³ table is 3.3 MB, beyond the 33³ the declaration counts; the declaration itself fits 2 MB.
    const small = await createTestRuntime({ plugins: [colorGrade], memoryBudgetBytes: 2 * 1024 ** 2 });
    try {
      await writeFile(join(small.inputs, 'big.cube'), cubeText(65, look));
      const events = (await small.run(applyLut({ path: 'big.cube' }))).events;
      expect(events.at(-1)).toMatchObject({ error: { code: 'MEMORY_BUDGET_EXCEEDED', nodeId: 'lut' } });
      expect(events).toContainEqual(expect.objectContaining({ type: 'node:start', nodeId: 'lut' }));
      await writeFile(join(small.inputs, 'usual.cube'), cubeText(33, look));
      expect((await small.run(applyLut({ path: 'usual.cube' }))).error).toBeUndefined();
      await expectNoLeaks(small);
    } finally {
      await small.close();
    }
  });

  it('leaks no tensors', () => expectNoLeaks(t));
});
