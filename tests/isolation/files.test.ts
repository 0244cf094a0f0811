// An isolated plugin that reads a file the workflow names: color-grade's 3D LUT node, whose fingerprint
// stats the file itself and whose run reads it through context.files. Both work from its process, and an
// edited file is noticed (the cache key changes), as in-process.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineNode, type RunEvent, Runtime, Type } from '../../packages/core/src/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dims = [1, 3, 2, 2, 2] as const;
const input = Float32Array.from({ length: 24 }, (_, i) => (i % 5) / 4 - 0.5);
let captured: Float32Array | undefined;

const source = defineNode({
  type: 'test/source',
  version: 1,
  title: 'Source',
  category: 'test',
  description: 'A fixed test video.',
  params: Type.Object({}),
  inputs: {},
  outputs: { video: { type: 'video' } },
  async run({ context }) {
    return { video: { kind: 'video' as const, tensor: await context.tensors.upload(input, dims), fps: 8 } };
  },
});

const capture = defineNode({
  type: 'test/capture',
  version: 1,
  title: 'Capture',
  category: 'test',
  description: 'Reads a video into the test.',
  params: Type.Object({}),
  inputs: { video: { type: 'video' } },
  outputs: {},
  cache: false,
  async run({ inputs, context }) {
    captured = (await context.tensors.read(inputs.video.tensor)) as Float32Array;
    return {};
  },
});

/** A 2³ .cube that maps every colour to `f(colour)`. */
function cube(f: (v: number) => number): string {
  const lines = ['LUT_3D_SIZE 2'];
  for (let b = 0; b < 2; b++)
    for (let g = 0; g < 2; g++) for (let r = 0; r < 2; r++) lines.push(`${f(r)} ${f(g)} ${f(b)}`);
  return `${lines.join('\n')}\n`;
}

let runtime: Runtime;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'kg-iso-lut-'));
  runtime = await Runtime.create({
    plugins: [{ name: 'test', nodes: [source, capture] }],
    discover: { cwd: root },
    threads: 1,
  });
});

afterAll(async () => {
  await runtime?.close();
});

async function grade(): Promise<{ ran: string[]; cached: string[] }> {
  const workflow = {
    format: 'kinegraph/workflow@1',
    nodes: {
      src: { type: 'test/source', version: 1 },
      lut: {
        type: 'color-grade/lut3d',
        version: 1,
        params: { path: 'look.cube' },
        inputs: { video: { node: 'src', output: 'video' } },
      },
      cap: { type: 'test/capture', version: 1, inputs: { video: { node: 'lut', output: 'video' } } },
    },
  };
  const events: RunEvent[] = [];
  await new Promise<void>((resolve, reject) =>
    runtime
      .run(workflow, { outputFolder: join(folder, 'out'), allowedFolders: [folder] })
      .subscribe({ next: (e) => events.push(e), error: reject, complete: resolve }),
  );
  const last = events.at(-1)!;
  if (last.type !== 'run:done') throw new Error(JSON.stringify(last));
  return { ran: last.executed, cached: last.cached };
}

describe('an isolated plugin reading a file', () => {
  it('runs isolated', () => {
    expect(runtime.discovery.loaded.find((p) => p.name === '@kinegraph/plugin-color-grade')?.isolation.mode).toBe(
      'isolated',
    );
  });

  it('reads the LUT, and notices when the file changes', async () => {
    writeFileSync(
      join(folder, 'look.cube'),
      cube((v) => v),
    ); // identity
    expect((await grade()).ran).toContain('lut');
    expect([...captured!].map((v) => v.toFixed(4))).toEqual([...input].map((v) => v.toFixed(4)));

    expect((await grade()).cached).toContain('lut'); // unchanged file: cached

    writeFileSync(join(folder, 'look.cube'), `# inverted\n${cube((v) => 1 - v)}`);
    expect((await grade()).ran).toContain('lut');
    expect([...captured!].map((v) => v.toFixed(4))).toEqual([...input].map((v) => (-v).toFixed(4)));
  });
});
