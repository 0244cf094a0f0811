// Every shared workflow, end to end on CPU with the shipped model pack, as a user runs it: the built CLI
// in a child process (few steps, to stay quick), then the written file checked with ffprobe.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CI, webgpuProblem } from './webgpu-support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/core/bin/kinegraph.js');
const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0;
const webgpu = await webgpuProblem();

// Few steps for every sampling node a workflow has; quality is the evaluator's business, not this test's.
const FAST: Record<string, string> = {
  'kinegraph/stunet-sample': 'steps=3',
  'kinegraph/text-to-image': 'steps=3',
  'kinegraph/spatial-super-res': 'steps=2',
};

function run(workflow: string, extra: string[] = []) {
  const doc = JSON.parse(readFileSync(join(root, 'workflows', `${workflow}.json`), 'utf8')) as {
    nodes: Record<string, { type: string }>;
  };
  const sets = Object.entries(doc.nodes).flatMap(([id, node]) =>
    FAST[node.type] ? ['--set', `${id}.${FAST[node.type]}`] : [],
  );
  const out = mkdtempSync(join(tmpdir(), `kg-wf-${workflow}-`));
  const result = spawnSync(
    process.execPath,
    [cli, 'run', join(root, 'workflows', `${workflow}.json`), ...sets, ...extra, '--out', out],
    { cwd: root, encoding: 'utf8', timeout: 240_000 },
  );
  return { ...result, out, files: result.stdout.trim().split('\n').filter(Boolean) };
}

function probe(file: string) {
  const r = spawnSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-count_frames',
      '-show_entries',
      'stream=codec_name,width,height,nb_read_frames,pix_fmt:format=duration:format_tags=comment',
      '-of',
      'json',
      file,
    ],
    { encoding: 'utf8' },
  );
  const json = JSON.parse(r.stdout) as {
    streams: Array<Record<string, string | number>>;
    format: { duration: string; tags?: { comment?: string } };
  };
  return { ...json.streams[0]!, duration: Number(json.format.duration), comment: json.format.tags?.comment };
}

const FRAMES: Record<string, number> = { 'seamless-loop': 12 };

const WORKFLOWS = readdirSync(join(root, 'workflows'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.replace(/\.json$/, ''))
  .sort();

describe('shared workflows', () => {
  it('are all there', () => {
    expect(WORKFLOWS).toEqual(
      expect.arrayContaining([
        'text-to-video',
        'text-to-image-to-video',
        'image-to-video',
        'stylized',
        'inpainting',
        'cinemagraph',
        'video-to-video',
        'super-resolution',
      ]),
    );
  });

  for (const workflow of WORKFLOWS) {
    it.skipIf(!hasFfmpeg)(`${workflow} runs end to end and writes a watchable MP4 that carries its workflow`, () => {
      const result = run(workflow);
      expect(result.stderr).not.toMatch(/at .*\.js:\d+/); // no stack traces for users
      expect(result.status, result.stderr).toBe(0);
      expect(result.files).toHaveLength(1);
      const info = probe(result.files[0]!);
      expect(info).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p', width: 256, height: 256 });
      // The pack's 16 frames at 8 fps; the loop cross-fade shortens the clip by its overlap.
      const frames = FRAMES[workflow] ?? 16;
      expect(Number(info.nb_read_frames)).toBe(frames);
      expect(info.duration).toBeCloseTo(frames / 8, 1);
      const embedded = JSON.parse(info.comment!) as { format: string; nodes: Record<string, unknown> };
      expect(embedded.format).toBe('kinegraph/workflow@1');
      expect(Object.keys(embedded.nodes).sort()).toEqual(
        Object.keys(
          (JSON.parse(readFileSync(join(root, 'workflows', `${workflow}.json`), 'utf8')) as { nodes: object }).nodes,
        ).sort(),
      );
    });
  }

  it('the prompt node is named so --set prompt.text works', () => {
    for (const workflow of WORKFLOWS) {
      const doc = JSON.parse(readFileSync(join(root, 'workflows', `${workflow}.json`), 'utf8')) as {
        nodes: Record<string, { type: string }>;
      };
      expect(doc.nodes.prompt?.type, workflow).toBe('kinegraph/text-encode');
    }
  });

  it('without ffmpeg, MP4 is a clear error that points to GIF, and GIF works', () => {
    const mp4 = run('text-to-video', []);
    expect(mp4.status).toBe(hasFfmpeg ? 0 : 2);
    const env = { ...process.env, KINEGRAPH_FFMPEG: '/nonexistent/ffmpeg' };
    const out = mkdtempSync(join(tmpdir(), 'kg-noffmpeg-'));
    const failed = spawnSync(
      process.execPath,
      [cli, 'run', join(root, 'workflows/text-to-video.json'), '--set', 'sampler.steps=2', '--out', out],
      { cwd: root, encoding: 'utf8', env },
    );
    expect(failed.status).toBe(2);
    expect(failed.stderr).toContain('FFMPEG_MISSING');
    expect(failed.stderr).toMatch(/gif/i);
    const gif = spawnSync(
      process.execPath,
      [
        cli,
        'run',
        join(root, 'workflows/text-to-video.json'),
        '--set',
        'sampler.steps=2',
        '--set',
        'save.format=gif',
        '--out',
        out,
      ],
      { cwd: root, encoding: 'utf8', env },
    );
    expect(gif.status, gif.stderr).toBe(0);
    expect(gif.stdout.trim()).toMatch(/\.gif$/);
  });

  // The webgpu runs: few steps, as a software adapter (CI's lavapipe) takes seconds per STUNet call.
  it.skipIf(webgpu !== '' && !CI)(
    '--device webgpu runs text-to-video, names the adapter in the JSON events and in the file',
    () => {
      expect(webgpu, 'CI installs lavapipe: a missing WebGPU adapter is a failure there').toBe('');
      const out = mkdtempSync(join(tmpdir(), 'kg-wf-webgpu-'));
      const result = spawnSync(
        process.execPath,
        [
          cli,
          'run',
          join(root, 'workflows/text-to-video.json'),
          '--set',
          'sampler.steps=2',
          '--set',
          `save.format=${hasFfmpeg ? 'mp4' : 'gif'}`,
          '--device',
          'webgpu',
          '--json',
          '--out',
          out,
        ],
        { cwd: root, encoding: 'utf8', timeout: 240_000 },
      );
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/terminate called|at .*\.js:\d+/);
      const events = result.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
      const device = events.find((e) => e.type === 'device') as {
        device: string;
        reason: string;
        adapter: { vendor: string; description: string; software: boolean };
      };
      expect(device).toMatchObject({ device: 'webgpu', available: ['webgpu', 'cpu'] });
      expect(device.reason).toMatch(/^webgpu was requested; adapter: /);
      expect(typeof device.adapter.description).toBe('string');
      const done = events.at(-1) as { type: string; files: string[] };
      expect(done.type).toBe('run:done');
      if (hasFfmpeg) {
        const embedded = JSON.parse(probe(done.files[0]!).comment!) as { metadata: { device: unknown } };
        expect(embedded.metadata.device).toEqual({
          device: 'webgpu',
          reason: device.reason,
          available: ['webgpu', 'cpu'],
          adapter: device.adapter,
        });
      }
    },
    300_000,
  );

  it('--device webgpu without a usable adapter names the device, not a model file', () => {
    // No Vulkan driver for the device probe: the same as a machine without a GPU.
    const env = { ...process.env, VK_DRIVER_FILES: '/nonexistent/icd.json' };
    const out = mkdtempSync(join(tmpdir(), 'kg-wf-nogpu-'));
    const result = spawnSync(
      process.execPath,
      [cli, 'run', join(root, 'workflows/text-to-video.json'), '--device', 'webgpu', '--out', out],
      { cwd: root, encoding: 'utf8', env },
    );
    expect(result.stderr).not.toContain('MODEL_FILE_CORRUPT');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('DEVICE_UNAVAILABLE');
    expect(result.stderr).toMatch(/Available devices: cpu/);
    expect(result.stderr).toMatch(/hint: .*--device cpu/);
  });
});
