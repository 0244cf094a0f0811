// Subgraphs, blueprints, bypass, mute and partial runs from the command line: the built CLI in a child
// process on the shipped model pack (3 sampler steps), its NDJSON events and the files it writes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/core/bin/kinegraph.js');
const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'kg-cli-graph-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Doc = { nodes: Record<string, Record<string, unknown>>; [key: string]: unknown };
const textToVideo = () => JSON.parse(readFileSync(join(root, 'workflows', 'text-to-video.json'), 'utf8')) as Doc;

function run(name: string, doc: unknown, extra: string[] = []) {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc));
  const out = join(dir, `out-${name}`);
  const result = spawnSync(process.execPath, [cli, 'run', file, '--json', '--out', out, ...extra], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
  });
  const events = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; nodeId?: string; files?: string[]; issues?: unknown[] });
  const done = events.filter((e) => e.type === 'node:done' || e.type === 'node:cached').map((e) => e.nodeId);
  return { status: result.status, stderr: result.stderr, events, done, end: events.at(-1) };
}

describe.skipIf(!hasFfmpeg)('kinegraph run: subgraphs, blueprints, bypass, mute, targets', () => {
  it('runs a subgraph (its nodes as gen:prompt, gen:sampler) next to a muted node of a missing plugin', () => {
    const doc = textToVideo();
    const { prompt, sampler } = doc.nodes;
    doc.nodes = {
      pack: doc.nodes.pack!,
      gen: {
        type: 'subgraph/generate',
        version: 1,
        params: { steps: 3 },
        inputs: { model: { node: 'pack', output: 'model' } },
      },
      save: { ...doc.nodes.save!, inputs: { video: { node: 'gen', output: 'video' } } },
      ghost: {
        type: 'acme/not-installed',
        version: 1,
        mode: 'mute',
        inputs: { video: { node: 'gen', output: 'video' } },
      },
    };
    doc.subgraphs = {
      generate: {
        name: 'Generate',
        inputs: { model: { type: 'model' } },
        outputs: { video: { node: 'sampler', output: 'video' } },
        params: { steps: { node: 'sampler', param: 'steps' } },
        nodes: {
          prompt: { ...prompt, inputs: { model: { node: '$input', output: 'model' } } },
          sampler: {
            ...sampler,
            inputs: { model: { node: '$input', output: 'model' }, positive: { node: 'prompt', output: 'embedding' } },
          },
        },
      },
    };
    const r = run('subgraph', doc);
    expect(r.status, r.stderr).toBe(0);
    expect(r.done).toEqual(['pack', 'gen:prompt', 'gen:sampler', 'save']);
    expect(r.end?.type).toBe('run:done');
    expect(r.end?.files).toHaveLength(1);
  }, 240_000);

  it('bypass passes the sampler video past a resize; mute writes nothing', () => {
    const doc = textToVideo();
    (doc.nodes.sampler!.params as Record<string, unknown>).steps = 3;
    doc.nodes.resize = {
      type: 'kinegraph/resize-video',
      version: 1,
      mode: 'bypass',
      params: { width: 32, height: 32 },
      inputs: { video: { node: 'sampler', output: 'video' } },
    };
    doc.nodes.save!.inputs = { video: { node: 'resize', output: 'video' } };
    const bypassed = run('bypass', doc);
    expect(bypassed.status, bypassed.stderr).toBe(0);
    expect(bypassed.done).not.toContain('resize');
    const probe = spawnSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', bypassed.end!.files![0]!],
      { encoding: 'utf8' },
    );
    expect(probe.stdout.trim()).toBe('256,256');

    doc.nodes.resize!.mode = 'mute';
    const muted = run('mute', doc);
    expect(muted.status, muted.stderr).toBe(0);
    expect(muted.done).toEqual(expect.arrayContaining(['pack', 'prompt', 'sampler']));
    expect(muted.done).not.toContain('save');
    expect(muted.end?.files).toEqual([]);
  }, 240_000);

  it('--target runs only that node and what it needs, even past a broken branch', () => {
    const doc = textToVideo();
    doc.nodes.broken = { type: 'kinegraph/video-encode', version: 1 };
    const whole = run('whole', doc);
    expect(whole.status).toBe(1);
    const partial = run('partial', doc, ['--target', 'prompt']);
    expect(partial.status, partial.stderr).toBe(0);
    expect(partial.done).toEqual(['pack', 'prompt']);
    const unknown = run('unknown-target', doc, ['--target', 'nope']);
    expect(unknown.status).toBe(1);
    expect(JSON.stringify(unknown.events)).toContain('TARGET_UNKNOWN');
  }, 240_000);

  it('a node named after a plugin’s blueprint runs the blueprint', () => {
    const doc = textToVideo();
    (doc.nodes.sampler!.params as Record<string, unknown>).steps = 3;
    doc.nodes.loop = {
      type: 'seamless-loop/loop-and-save',
      version: 1,
      params: { filenamePrefix: 'cli-loop' },
      inputs: { video: { node: 'sampler', output: 'video' } },
    };
    const r = run('blueprint', doc);
    expect(r.status, r.stderr).toBe(0);
    expect(r.done).toEqual(expect.arrayContaining(['loop:loop', 'loop:save']));
    expect(r.end?.files?.some((f) => /cli-loop_\d+\.gif$/.test(f))).toBe(true);
  }, 240_000);
});
