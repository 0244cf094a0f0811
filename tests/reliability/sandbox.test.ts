// Every node that reads or writes a file, through a real Runtime: paths outside the allowed folders
// (../, absolute, a symlink pointing out, NUL bytes) are refused with a coded error naming the node, and
// nothing is written outside. Each reader also gets a positive control (the same file, inside the allowed
// folder, loads), so a refusal is the sandbox's doing and not a bad test file. The battery finds the file
// nodes itself from the installed catalogue: a new node with a file parameter fails it until it is covered.
import { copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runtime } from '@kinegraph/core';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FILE_PARAM = /^(path|file|files|filename|filenamePrefix|pack|folder|dir)$/;

type Nodes = Record<
  string,
  {
    type: string;
    version: number;
    params?: Record<string, unknown>;
    inputs?: Record<string, { node: string; output: string }>;
  }
>;

/** A file node under test: which param names a file, the file it reads, and the workflow around it. */
interface Reader {
  readonly param: string;
  readonly file: string; // name of the (valid) fixture, both inside and outside the sandbox
  nodes(value: string): Nodes;
}

const video = { type: 'kinegraph/load-video', version: 1, params: { path: 'clip.gif', maxFrames: 4 } };
const READERS: Record<string, Reader> = {
  'kinegraph/load-image': {
    param: 'path',
    file: 'picture.png',
    nodes: (path) => ({ target: { type: 'kinegraph/load-image', version: 1, params: { path } } }),
  },
  'kinegraph/load-mask': {
    param: 'path',
    file: 'picture.png',
    nodes: (path) => ({ target: { type: 'kinegraph/load-mask', version: 1, params: { path } } }),
  },
  'kinegraph/load-video': {
    param: 'path',
    file: 'clip.gif',
    nodes: (path) => ({ target: { type: 'kinegraph/load-video', version: 1, params: { path, maxFrames: 4 } } }),
  },
  'color-grade/lut3d': {
    param: 'path',
    file: 'look.cube',
    nodes: (path) => ({
      clip: video,
      target: {
        type: 'color-grade/lut3d',
        version: 1,
        params: { path },
        inputs: { video: { node: 'clip', output: 'video' } },
      },
    }),
  },
  'kinegraph/style-adapter': {
    param: 'file',
    file: 'style.safetensors',
    nodes: (file) => ({
      pack: { type: 'kinegraph/load-model-pack', version: 1, params: { verify: false } },
      target: {
        type: 'kinegraph/style-adapter',
        version: 1,
        params: { file, alpha: 0.5 },
        inputs: { model: { node: 'pack', output: 'model' } },
      },
    }),
  },
};

const WRITERS: Record<string, { param: string; nodes(value: string): Nodes }> = {
  'kinegraph/save-image': {
    param: 'filenamePrefix',
    nodes: (filenamePrefix) => ({
      pic: { type: 'kinegraph/load-image', version: 1, params: { path: 'picture.png' } },
      target: {
        type: 'kinegraph/save-image',
        version: 1,
        params: { filenamePrefix },
        inputs: { image: { node: 'pic', output: 'image' } },
      },
    }),
  },
  'kinegraph/video-encode': {
    param: 'filenamePrefix',
    nodes: (filenamePrefix) => ({
      clip: video,
      target: {
        type: 'kinegraph/video-encode',
        version: 1,
        params: { filenamePrefix, format: 'gif' },
        inputs: { video: { node: 'clip', output: 'video' } },
      },
    }),
  },
};

// A pack is a name looked up in the model folders, never a path.
const NAMES: Record<string, { param: string; nodes(value: string): Nodes }> = {
  'kinegraph/load-model-pack': {
    param: 'pack',
    nodes: (pack) => ({ target: { type: 'kinegraph/load-model-pack', version: 1, params: { pack, verify: false } } }),
  },
};

let runtime: Runtime;
let base: string;
let allowed: string;
let outside: string;
let out: string;

beforeAll(async () => {
  runtime = await Runtime.create({ discover: { cwd: root }, cacheBudgetBytes: 0 });
  base = await mkdtemp(join(tmpdir(), 'kg-sandbox-'));
  [allowed, outside, out] = ['allowed', 'outside', 'out'].map((f) => join(base, f)) as [string, string, string];
  for (const folder of [allowed, outside, out]) await mkdir(folder);
  const cube = [
    'LUT_3D_SIZE 2',
    ...[0, 1].flatMap((b) => [0, 1].flatMap((g) => [0, 1].map((r) => `${r} ${g} ${b}`))),
  ].join('\n');
  for (const folder of [allowed, outside]) {
    await copyFile(join(root, 'workflows/inputs/green-square.png'), join(folder, 'picture.png'));
    await copyFile(join(root, 'workflows/inputs/red-circle-right.gif'), join(folder, 'clip.gif'));
    await copyFile(join(root, 'models/kinegraph-tiny/style-outline.safetensors'), join(folder, 'style.safetensors'));
    await writeFile(join(folder, 'look.cube'), `${cube}\n`);
  }
  for (const name of ['picture.png', 'clip.gif', 'style.safetensors', 'look.cube'])
    await symlink(join(outside, name), join(allowed, `link-${name}`));
}, 60_000);

afterAll(async () => {
  await runtime?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

/** Validates and runs; returns how it ended: 'done', or the code of the first problem and its node. */
async function outcome(nodes: Nodes): Promise<{ code: string; nodeId?: string; message?: string }> {
  const checked = runtime.validate({ format: 'kinegraph/workflow@1', nodes });
  if (!checked.ok) {
    const issue = checked.issues.find((i) => i.nodeId === 'target') ?? checked.issues[0]!;
    return {
      code: issue.code,
      ...(issue.nodeId !== undefined ? { nodeId: issue.nodeId } : {}),
      message: issue.message,
    };
  }
  const events = await lastValueFrom(
    runtime.run(checked.prepared, { outputFolder: out, allowedFolders: [allowed] }).pipe(toArray()),
  );
  const end = events.at(-1)!;
  if (end.type === 'run:done') return { code: 'done' };
  if (end.type === 'run:error')
    return { code: end.error.code ?? 'UNCODED', nodeId: end.nodeId, message: end.error.message };
  return { code: end.type };
}

describe('file sandbox, node by node', () => {
  it('covers every installed node with a file parameter', () => {
    const withFileParams = runtime.registry
      .nodes()
      .filter((n) =>
        Object.keys((n.definition.params as { properties?: object }).properties ?? {}).some((k) => FILE_PARAM.test(k)),
      )
      .map((n) => n.definition.type)
      .sort();
    expect(withFileParams).toEqual([...Object.keys(READERS), ...Object.keys(WRITERS), ...Object.keys(NAMES)].sort());
  });

  for (const [type, reader] of Object.entries(READERS)) {
    it(`${type} reads its file inside the allowed folder, and refuses ../, absolute, symlinked-out and NUL paths`, async () => {
      expect(await outcome(reader.nodes(reader.file))).toEqual({ code: 'done' });
      const bad = [
        `../outside/${reader.file}`,
        join(outside, reader.file),
        `link-${reader.file}`,
        `${reader.file}\0.txt`,
      ];
      for (const value of bad) {
        const result = await outcome(reader.nodes(value));
        expect(result.code, `${type} ${reader.param}=${JSON.stringify(value)}`).toMatch(
          /^(PATH_OUTSIDE_ALLOWED|PATH_INVALID|PARAM_INVALID)$/,
        );
        expect(result.nodeId).toBe('target');
      }
    }, 60_000);
  }

  for (const [type, writer] of Object.entries(WRITERS)) {
    it(`${type} writes only into the output folder`, async () => {
      const before = await readdir(outside);
      for (const value of ['../outside/escape', join(outside, 'escape'), 'sub/escape', 'a\0b', '..']) {
        const result = await outcome(writer.nodes(value));
        expect(result.code, `${type} ${writer.param}=${JSON.stringify(value)}`).toMatch(
          /^(PATH_INVALID|PARAM_INVALID)$/,
        );
        expect(result.nodeId).toBe('target');
      }
      expect(await readdir(outside)).toEqual(before);
      const outBefore = new Set(await readdir(out));
      expect(await outcome(writer.nodes('kept'))).toEqual({ code: 'done' });
      expect((await readdir(out)).filter((f) => !outBefore.has(f))).toEqual([expect.stringMatching(/^kept/)]);
    }, 60_000);
  }

  for (const [type, named] of Object.entries(NAMES)) {
    it(`${type} takes a name, never a path`, async () => {
      for (const value of ['..', '.', '../kinegraph-tiny', '/etc', 'a\0b', 'models/kinegraph-tiny']) {
        const result = await outcome(named.nodes(value));
        expect(result.code, `${type} ${named.param}=${JSON.stringify(value)}`).toBe('PARAM_INVALID');
        expect(result.nodeId).toBe('target');
      }
    });
  }
});
