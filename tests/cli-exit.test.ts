// The exit contract of `kinegraph`, held in real child processes (`node packages/core/bin/kinegraph.js`),
// each case RUNS times, because what broke it was a race: the inference worker's thread was torn down while
// ONNX Runtime was inside a native call, and the process aborted (exit 134, "terminate called after throwing
// an instance of 'Napi::Error'") in some runs only. A tiny plugin keeps the worker busy inside ONNX Runtime
// (a matmul chain in a loop, or a large model being loaded) at the moment each case ends the run.
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGraph } from '@kinegraph/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RUNS = 20;
/** Child processes at once: the cases are about exit codes, not speed. */
const PARALLEL = 4;
const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'packages/core/bin/kinegraph.js');
let project: string;
let corruptPacks: string;

// Plain JS, no imports: what a plugin is once built. `exit/spin` reports progress as each model call starts,
// so a signal sent on a progress event finds the worker inside ONNX Runtime.
const pluginSource = `
let markSpinning;
const spinning = new Promise((resolve) => (markSpinning = resolve));
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const coded = (message) => Object.assign(new Error(message), { code: 'DEMO_MISSING', hint: 'a test failure' });
const spin = {
  type: 'exit/spin', version: 1, title: 'Spin', category: 'test', description: 'Runs a model in a loop.',
  params: { type: 'object', properties: { model: { type: 'string' }, size: { type: 'integer' }, steps: { type: 'integer' } } },
  inputs: {}, outputs: {},
  async run({ params, context }) {
    const model = await context.tensors.loadModel(params.model);
    const x = await context.tensors.upload(new Float32Array(params.size * params.size).fill(0.01), [params.size, params.size]);
    for (let i = 0; i < params.steps; i++) {
      const out = context.tensors.run(model, { x });
      out.catch(() => undefined); // cancelled while the node awaits the upload below: not unhandled
      // Answered once the worker has taken the run from its inbox: it starts the run on its next turn.
      context.tensors.release(await context.tensors.upload(new Float32Array(1), [1]));
      context.progress(i / params.steps);
      markSpinning();
      context.tensors.release((await out).y);
    }
    return {};
  },
};
const failInRun = {
  type: 'exit/fail-in-run', version: 1, title: 'Fail', category: 'test', description: 'Fails while exit/spin runs.',
  params: { type: 'object', properties: {} }, inputs: {}, outputs: {},
  async run() { await spinning; await delay(5); throw coded('the input is missing'); },
};
const failInLoad = {
  type: 'exit/fail-in-load', version: 1, title: 'Fail', category: 'test', description: 'Fails while a model loads.',
  params: { type: 'object', properties: { model: { type: 'string' } } }, inputs: {}, outputs: {},
  async run({ params, context }) {
    context.tensors.loadModel(params.model).catch(() => undefined);
    await delay(50);
    throw coded('the file is corrupt');
  },
};
export default () => ({ name: 'exit-test-plugin', nodes: [spin, failInRun, failInLoad] });
`;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Process groups still running, killed whatever happens (a pipeline's `node` outlives its `bash`). */
const running = new Set<number>();
const killGroup = (pid: number) => {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone already
  }
};
afterAll(async () => {
  for (const pid of running) killGroup(pid);
  if (project) await rm(project, { recursive: true, force: true });
});

/** Runs a command in a process group of its own; `watch` sees the output as it comes (to send signals). */
function execute(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; watch?: (child: ChildProcess, out: Exit) => void } = {},
): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? project,
      env: { ...process.env, KINEGRAPH_CACHE: 'off', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child.pid!);
    const out: Exit = { code: null, signal: null, stdout: '', stderr: '' };
    // A hang is a failure too (exit SIGKILL), not a test stuck until vitest's timeout.
    const guard = setTimeout(() => killGroup(child.pid!), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out.stdout += d;
      options.watch?.(child, out);
    });
    child.stderr!.on('data', (d: Buffer) => {
      out.stderr += d;
      options.watch?.(child, out);
    });
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      killGroup(child.pid!);
      running.delete(child.pid!);
      resolve({ ...out, code, signal });
    });
  });
}

const kinegraph = (args: readonly string[], options: Parameters<typeof execute>[2] = {}) =>
  execute(process.execPath, [bin, ...args], options);

/** Runs `once` RUNS times, PARALLEL at a time. */
async function repeat(once: () => Promise<Exit>): Promise<Exit[]> {
  const results: Exit[] = [];
  const next = async (): Promise<void> => {
    while (results.length < RUNS) {
      const slot = results.length;
      results.push(undefined as never);
      results[slot] = await once();
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, next));
  return results;
}

/** What an abort leaves on stderr, per run (none expected). */
const aborts = (runs: Exit[]) =>
  runs.filter((r) => /terminate called|Napi::Error|Aborted|core dumped/.test(r.stderr)).map((r) => r.stderr);

const workflow = (nodes: Record<string, unknown>) => JSON.stringify({ format: 'kinegraph/workflow@1', nodes });

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'kg-exit-'));
  const plugin = join(project, 'plugins', 'exit');
  await mkdir(plugin, { recursive: true });
  await writeFile(
    join(plugin, 'package.json'),
    JSON.stringify({
      name: 'exit-test-plugin',
      version: '0.1.0',
      type: 'module',
      kinegraph: { apiVersion: 1, plugins: ['index.js'] },
    }),
  );
  await writeFile(join(plugin, 'index.js'), pluginSource);
  // spin: ~25 ms a call on 2 cores; slow: seconds a call (350 GFLOP); heavy: 16 MB of weights, ~200 ms to load.
  const chain = (name: string, size: number, length: number) =>
    buildGraph(name, (g) => {
      let x = g.input('x', 'float32', [size, size]);
      for (let i = 0; i < length; i++) x = g.matmul(x, x);
      g.output('y', x);
    });
  // The plugin's models ship in its package: an isolated plugin reads its own package wherever a run's
  // allowed folders are (the server allows only workflows/, inputs/ and outputs/).
  await writeFile(join(plugin, 'spin.onnx'), chain('spin', 384, 12).bytes);
  await writeFile(join(plugin, 'slow.onnx'), chain('slow', 1536, 48).bytes);
  const weights = new Float32Array(512 * 512).fill(0.001);
  const heavy = buildGraph('heavy', (g) => {
    let x = g.input('x', 'float32', [1, 512]);
    for (let i = 0; i < 16; i++)
      x = g.matmul(
        x,
        g.constant(
          weights.map((w) => w + i * 1e-6),
          [512, 512],
        ),
      );
    g.output('y', x);
  });
  await writeFile(join(plugin, 'heavy.onnx'), heavy.bytes);
  const spinNode = (model: string, size: number, steps = 1000) => ({
    type: 'exit/spin',
    version: 1,
    params: { model: join(plugin, model), size, steps },
  });
  await writeFile(join(project, 'spin.json'), workflow({ s: spinNode('spin.onnx', 384) }));
  // Plain progress is printed in 10% steps: 200 steps make one every 20 calls.
  await writeFile(join(project, 'spin-200.json'), workflow({ s: spinNode('spin.onnx', 384, 200) }));
  await writeFile(join(project, 'slow.json'), workflow({ s: spinNode('slow.onnx', 1536) }));
  await writeFile(
    join(project, 'fail-in-run.json'),
    workflow({ s: spinNode('spin.onnx', 384), f: { type: 'exit/fail-in-run', version: 1 } }),
  );
  await writeFile(
    join(project, 'fail-in-load.json'),
    workflow({ f: { type: 'exit/fail-in-load', version: 1, params: { model: join(plugin, 'heavy.onnx') } } }),
  );
  // A copy of the shipped pack with 64 bytes of its STUNet flipped (never the real one).
  corruptPacks = join(project, 'models');
  const pack = join(corruptPacks, 'kinegraph-tiny');
  await mkdir(pack, { recursive: true });
  for (const file of await readdir(join(root, 'models/kinegraph-tiny')))
    await copyFile(join(root, 'models/kinegraph-tiny', file), join(pack, file));
  const stunet = await open(join(pack, 'stunet.onnx'), 'r+');
  const bytes = Buffer.alloc(64);
  await stunet.read(bytes, 0, 64, 200_000);
  await stunet.write(
    bytes.map((b) => b ^ 0xff),
    0,
    64,
    200_000,
  );
  await stunet.close();
}, 120_000);

describe(`kinegraph's exit codes hold, ${RUNS} runs of each case`, () => {
  it('Ctrl-C on the first progress event (the worker inside ONNX Runtime) exits 130', async () => {
    const runs = await repeat(() =>
      kinegraph(['run', 'spin.json', '--json', '--out', 'out'], {
        watch: (child, out) => {
          if (out.stdout.includes('"node:progress"') && child.signalCode === null && !child.killed)
            child.kill('SIGINT');
        },
      }),
    );
    expect(aborts(runs)).toEqual([]);
    expect(runs.map((r) => r.code)).toEqual(Array(RUNS).fill(130));
    for (const run of runs) expect(run.stdout.trim().split('\n').at(-1)).toContain('"run:cancelled"');
  }, 180_000);

  it('a second Ctrl-C stops at once, by SIGINT (status 130 in a shell), while ONNX Runtime is still busy', async () => {
    const runs = await repeat(() => {
      let sent = 0;
      return kinegraph(['run', 'slow.json', '--json', '--out', 'out'], {
        watch: (child, out) => {
          if (sent === 0 && out.stdout.includes('"node:progress"')) sent = Number(child.kill('SIGINT'));
          else if (sent === 1 && out.stderr.includes('cancelling')) sent = 1 + Number(child.kill('SIGINT'));
        },
      });
    });
    expect(aborts(runs)).toEqual([]);
    expect(runs.map((r) => r.signal ?? r.code)).toEqual(Array(RUNS).fill('SIGINT'));
  }, 180_000);

  it('a node failing while another runs a model exits 2, naming the node and code', async () => {
    const runs = await repeat(() => kinegraph(['run', 'fail-in-run.json', '--out', 'out']));
    expect(aborts(runs)).toEqual([]);
    expect(runs.map((r) => r.code)).toEqual(Array(RUNS).fill(2));
    for (const run of runs) expect(run.stderr).toContain('failed at node "f": DEMO_MISSING');
  }, 180_000);

  it('a node failing while a model is being loaded exits 2', async () => {
    const runs = await repeat(() => kinegraph(['run', 'fail-in-load.json', '--out', 'out']));
    expect(aborts(runs)).toEqual([]);
    expect(runs.map((r) => r.code)).toEqual(Array(RUNS).fill(2));
    for (const run of runs) expect(run.stderr).toContain('failed at node "f": DEMO_MISSING');
  }, 180_000);

  it('a corrupted model file in the shipped pack is MODEL_FILE_CORRUPT with exit 2', async () => {
    const runs = await repeat(() =>
      kinegraph(['run', 'workflows/text-to-video.json', '--set', 'sampler.steps=2', '--out', join(project, 'out')], {
        cwd: root,
        env: { KINEGRAPH_MODELS: corruptPacks },
      }),
    );
    expect(aborts(runs)).toEqual([]);
    expect(runs.map((r) => r.code)).toEqual(Array(RUNS).fill(2));
    for (const run of runs) expect(run.stderr).toContain('failed at node "pack": MODEL_FILE_CORRUPT');
  }, 180_000);

  it('a closed output (`| head -3`, stdout or stderr) cancels the run and exits 141 at once', async () => {
    const piped = (args: string, lines: number) =>
      execute('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${bin}" ${args} 2>&1 | head -${lines}`]);
    // NDJSON events on stdout, then progress lines on stderr.
    const json = await repeat(() => piped('run spin.json --json --out out', 3));
    const plain = await repeat(() => piped('run spin-200.json --out out', 1));
    expect(aborts([...json, ...plain])).toEqual([]);
    expect(json.map((r) => r.code)).toEqual(Array(RUNS).fill(141));
    expect(plain.map((r) => r.code)).toEqual(Array(RUNS).fill(141));
    for (const run of json) expect(run.stdout.trim().split('\n')).toHaveLength(3);
  }, 180_000);

  it('an unknown option is a usage error (1) that suggests the option meant', async () => {
    const sed = await repeat(() => kinegraph(['run', 'spin.json', '--sed', 's.steps=2']));
    const jsn = await repeat(() => kinegraph(['run', 'spin.json', '--jsn']));
    expect([...sed, ...jsn].map((r) => r.code)).toEqual(Array(2 * RUNS).fill(1));
    for (const run of sed) expect(run.stderr).toContain('Unknown option --sed for kinegraph run. Did you mean --set?');
    for (const run of jsn) expect(run.stderr).toContain('Did you mean --json?');
  }, 180_000);
});

describe('kinegraph serve stops cleanly on Ctrl-C while a run is in progress, 5 times', () => {
  // The server's runtime shares the worker's fate with `kinegraph run`: stopping it while ONNX Runtime is
  // inside a call must wait for the call, not abort the process.
  const SERVE_RUNS = 5;

  /** Starts `kinegraph serve`, queues spin.json once it listens, and sends SIGINT once the run has progressed. */
  const serveAndInterrupt = () => {
    let started = false;
    const progressed: { at?: number } = {};
    return kinegraph(['serve', '--port', '0'], {
      watch: (child, out) => {
        const url = out.stdout.split('\n').find((line) => line.startsWith('http://'));
        if (!url || started) return;
        started = true;
        void (async () => {
          const base = url.trim();
          const doc = JSON.parse(await readFile(join(project, 'spin.json'), 'utf8')) as unknown;
          const posted = await fetch(`${base}api/runs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(doc),
          });
          const { id } = (await posted.json()) as { id: string };
          for (;;) {
            const run = (await (await fetch(`${base}api/runs/${id}`)).json()) as {
              status: string;
              nodes: Record<string, { progress: number }>;
            };
            if (run.status === 'running' && (run.nodes.s?.progress ?? 0) > 0) break;
            if (run.status !== 'queued' && run.status !== 'running') throw new Error(`the run ended: ${run.status}`);
            await new Promise((r) => setTimeout(r, 10));
          }
          progressed.at = Date.now();
          child.kill('SIGINT');
        })().catch((error: Error) => {
          out.stderr += `test driver: ${error.message}\n`;
          child.kill('SIGKILL');
        });
      },
    }).then((exit) => ({ ...exit, interrupted: progressed.at !== undefined }));
  };

  it('exits 0 (never 134), after saying it stops', async () => {
    const runs: Array<Exit & { interrupted: boolean }> = [];
    for (let i = 0; i < SERVE_RUNS; i++) runs.push(await serveAndInterrupt());
    expect(aborts(runs)).toEqual([]);
    expect(runs.map((r) => r.interrupted)).toEqual(Array(SERVE_RUNS).fill(true));
    expect(runs.map((r) => r.signal ?? r.code)).toEqual(Array(SERVE_RUNS).fill(0));
    for (const run of runs) expect(run.stderr).toContain('stopping');
  }, 180_000);
});
