// Well-behaved plugins give the same bytes isolated as in-process: the color-grade and seamless-loop
// workflows, end to end on the shipped model (few steps), once with their plugins in plugin processes
// (the default) and once loaded into the runtime, and the written files compared byte for byte.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunEvent, Runtime } from '../../packages/core/src/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;

let isolated: Runtime;
let inProcess: Runtime;

beforeAll(async () => {
  [isolated, inProcess] = await Promise.all([
    Runtime.create({ discover: { cwd: root }, threads: 1 }),
    Runtime.create({ discover: { cwd: root, isolate: false }, threads: 1 }),
  ]);
});

afterAll(async () => {
  await Promise.all([isolated?.close(), inProcess?.close()]);
});

async function render(
  runtime: Runtime,
  workflow: string,
): Promise<{ bytes: Buffer; events: RunEvent[]; copied: { toJs: number; fromJs: number } }> {
  const store = await runtime.store();
  const before = store.stats();
  const document = JSON.parse(readFileSync(join(root, 'workflows', `${workflow}.json`), 'utf8')) as unknown;
  const out = mkdtempSync(join(tmpdir(), `kg-iso-${workflow}-`));
  const events: RunEvent[] = [];
  await new Promise<void>((resolve, reject) =>
    runtime
      .run(document, {
        outputFolder: out,
        allowedFolders: [join(root, 'workflows')],
        overrides: [
          { nodeId: 'sampler', param: 'steps', value: 3 },
          ...(hasFfmpeg ? [] : [{ nodeId: 'save', param: 'format', value: 'gif' }]),
        ],
      })
      .subscribe({ next: (e) => events.push(e), error: reject, complete: resolve }),
  );
  const last = events.at(-1)!;
  if (last.type !== 'run:done') throw new Error(`${workflow}: ${JSON.stringify(last)}`);
  expect(last.files).toHaveLength(1);
  const after = store.stats();
  return {
    bytes: readFileSync(last.files[0]!),
    events,
    copied: { toJs: after.bytesToJs - before.bytesToJs, fromJs: after.bytesFromJs - before.bytesFromJs },
  };
}

describe('well-behaved plugins, isolated', () => {
  it('the plugins of both workflows run isolated in one runtime and in-process in the other', () => {
    for (const name of ['@kinegraph/plugin-color-grade', '@kinegraph/plugin-seamless-loop']) {
      expect(isolated.discovery.loaded.find((p) => p.name === name)?.isolation.mode).toBe('isolated');
      expect(inProcess.discovery.loaded.find((p) => p.name === name)?.isolation.mode).toBe('in-process');
    }
    expect(isolated.discovery.loaded.find((p) => p.name === '@kinegraph/nodes')?.isolation.mode).toBe('in-process');
  });

  it.each([
    ['color-grade', 'grade'],
    ['seamless-loop', 'loop'],
  ])('%s writes the same bytes isolated as in-process', async (workflow, pluginNode) => {
    const a = await render(isolated, workflow);
    const b = await render(inProcess, workflow);
    expect(a.bytes.length).toBeGreaterThan(1000);
    expect(a.bytes.equals(b.bytes)).toBe(true);
    const done = (events: RunEvent[]) =>
      events.find(
        (e): e is Extract<RunEvent, { type: 'node:done' }> => e.type === 'node:done' && e.nodeId === pluginNode,
      );
    expect(done(a.events)?.outputs).toEqual(done(b.events)?.outputs);
    // Tensors stay in the inference worker: the isolated plugin copied no more data than in-process.
    expect(a.copied).toEqual(b.copied);
  });

  it('frees every tensor an isolated node made', async () => {
    isolated.cache.clear();
    expect((await isolated.store()).stats().liveTensors).toBe(0);
  });
});
