// Apply 3D LUT through a real Runtime: .cube parsing, the trilinear ONNX graph against a plain-JS
// reference, identity LUTs, domains, file access inside the allowed folders only, and no tensor leaks.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '@kinegraph/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lut3d } from './cube.js';
import { parseCube } from './cube.js';
import colorGrade from './index.js';
import type { TestVideo } from './test-nodes.js';
import { captured, gradientVideo, liveTensorsAfterClear, runNodes, sources, testNodes } from './test-nodes.js';

let runtime: Runtime;
let root: string;
let inputs: string;
let out: string;
beforeAll(async () => {
  runtime = await Runtime.create({
    plugins: [await colorGrade(), { name: 'test', nodes: testNodes }],
    discover: false,
    threads: 1,
  });
  root = await mkdtemp(join(tmpdir(), 'kg-lut-'));
  inputs = join(root, 'inputs');
  out = join(root, 'out');
  await mkdir(inputs);
  await mkdir(out);
});
afterAll(async () => {
  await runtime?.close();
  if (root) await rm(root, { recursive: true, force: true });
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
  const [b, , f, h, w] = video.dims;
  const n = lut.size;
  const plane = f * h * w;
  const result = new Float32Array(video.data.length);
  for (let bi = 0; bi < b; bi++) {
    for (let i = 0; i < plane; i++) {
      const at = (c: number) => bi * 3 * plane + c * plane + i;
      const x = [0, 1, 2].map((c) => (video.data[at(c)]! + 1) / 2);
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

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const applyLut = (params: Record<string, unknown>) => ({
  src: { type: 'test/source', version: 1, params: { key: 'clip' } },
  lut: { type: 'color-grade/lut3d', version: 1, params, inputs: { video: { node: 'src', output: 'video' } } },
  cap: {
    type: 'test/capture',
    version: 1,
    params: { key: 'out' },
    inputs: { video: { node: 'lut', output: 'video' } },
  },
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
  const clip = gradientVideo(3, 7, 6, 2);
  beforeAll(() => {
    sources.set('clip', clip);
  });

  it('an identity LUT returns the input (trilinear reproduces linear maps exactly)', async () => {
    await writeFile(
      join(inputs, 'identity.cube'),
      cubeText(5, (r, g, b) => [r, g, b]),
    );
    const end = await runNodes(runtime, applyLut({ path: 'identity.cube' }), { out, allowed: [inputs] });
    expect(end.error).toBeUndefined();
    expect(maxAbsDiff(captured.get('out')!.data, clip.data)).toBeLessThan(1e-5);
  });

  it.each([
    [2, 1],
    [5, 1],
    [17, 0.6],
  ])('matches the JS trilinear reference (size %i, mix %f)', async (n, mix) => {
    const text = cubeText(n, look);
    await writeFile(join(inputs, `look-${n}.cube`), text);
    const end = await runNodes(runtime, applyLut({ path: `look-${n}.cube`, mix }), { out, allowed: [inputs] });
    expect(end.error).toBeUndefined();
    const result = captured.get('out')!;
    expect(result.dims).toEqual(clip.dims);
    expect(maxAbsDiff(result.data, reference(clip, parseCube(text), mix))).toBeLessThan(1e-5);
  });

  it('honours DOMAIN_MIN/DOMAIN_MAX', async () => {
    const text = cubeText(3, look, 'DOMAIN_MIN 0.1 0 0.2\nDOMAIN_MAX 0.9 1 0.7');
    await writeFile(join(inputs, 'domain.cube'), text);
    expect(
      (await runNodes(runtime, applyLut({ path: 'domain.cube' }), { out, allowed: [inputs] })).error,
    ).toBeUndefined();
    expect(maxAbsDiff(captured.get('out')!.data, reference(clip, parseCube(text), 1))).toBeLessThan(1e-5);
  });

  it('re-reads an edited file (the fingerprint changes) instead of reusing the cached output', async () => {
    await writeFile(
      join(inputs, 'edit.cube'),
      cubeText(2, (r, g, b) => [r, g, b]),
    );
    expect(
      (await runNodes(runtime, applyLut({ path: 'edit.cube' }), { out, allowed: [inputs] })).error,
    ).toBeUndefined();
    const text = cubeText(2, () => [0.5, 0.5, 0.5]);
    await writeFile(join(inputs, 'edit.cube'), text);
    expect(
      (await runNodes(runtime, applyLut({ path: 'edit.cube' }), { out, allowed: [inputs] })).error,
    ).toBeUndefined();
    expect(captured.get('out')!.data.every((v) => Math.abs(v) < 1e-6)).toBe(true); // 0.5 grey is 0 in [-1, 1]
  });

  it('reports a broken file, a missing file and a file outside the allowed folders, naming the node', async () => {
    await writeFile(join(inputs, 'broken.cube'), 'LUT_3D_SIZE 2\n0 0 zero\n');
    expect(
      (await runNodes(runtime, applyLut({ path: 'broken.cube' }), { out, allowed: [inputs] })).error,
    ).toMatchObject({ code: 'LUT_INVALID', nodeId: 'lut' });
    expect((await runNodes(runtime, applyLut({ path: 'nope.cube' }), { out, allowed: [inputs] })).error).toMatchObject({
      code: 'FILE_NOT_FOUND',
      nodeId: 'lut',
    });
    await writeFile(join(root, 'secret.cube'), cubeText(2, look));
    expect(
      (await runNodes(runtime, applyLut({ path: join(root, 'secret.cube') }), { out, allowed: [inputs] })).error,
    ).toMatchObject({ code: 'PATH_OUTSIDE_ALLOWED', nodeId: 'lut' });
  });

  it('leaks no tensors', async () => {
    expect(await liveTensorsAfterClear(runtime)).toBe(0);
  });
});
