// The CLI as users run it: the built bin in a child process, in a project folder with a plugin in plugins/.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/kinegraph.js', import.meta.url));
let project: string;

// A plugin written as a plain object with JSON Schema params: what a plugin is once built, no SDK import.
const pluginSource = `
const text = { type: 'demo/text', version: 1, title: 'Text', category: 'demo', description: 'Outputs text.',
  params: { type: 'object', properties: { text: { type: 'string', default: 'hi' } } }, inputs: {}, outputs: { text: { type: 'text' } },
  run: ({ params }) => ({ text: params.text }) };
const save = { type: 'demo/save', version: 1, title: 'Save', category: 'demo', description: 'Writes text to a file.',
  params: { type: 'object', properties: { name: { type: 'string', default: 'out.txt' } } }, inputs: { text: { type: 'text' } }, outputs: {},
  async run({ params, inputs, context }) { await context.files.writeOutput(params.name, new TextEncoder().encode(inputs.text)); return {}; } };
const fail = { type: 'demo/fail', version: 1, title: 'Fail', category: 'demo', description: 'Throws.',
  params: { type: 'object', properties: {} }, inputs: {}, outputs: {}, run() { throw Object.assign(new Error('kaput'), { code: 'DEMO_BROKEN', hint: 'do not use demo/fail' }); } };
const wait = { type: 'demo/wait', version: 1, title: 'Wait', category: 'demo', description: 'Waits until cancelled.',
  params: { type: 'object', properties: {} }, inputs: {}, outputs: {},
  run: ({ context }) => new Promise((_, reject) => { console.error('waiting'); context.signal.addEventListener('abort', () => reject(context.signal.reason)); }) };
const stray = { type: 'demo/stray', version: 1, title: 'Stray', category: 'demo', description: 'Throws from a timer, outside its promise.',
  params: { type: 'object', properties: {} }, inputs: {}, outputs: {},
  run: ({ context }) => new Promise((_, reject) => { setTimeout(() => { throw new Error('stray throw'); }, 20); context.signal.addEventListener('abort', () => reject(context.signal.reason)); }) };
const hang = { type: 'demo/hang', version: 1, title: 'Hang', category: 'demo', description: 'Never finishes, ignores cancellation.',
  params: { type: 'object', properties: {} }, inputs: {}, outputs: {}, run: () => new Promise(() => { setInterval(() => {}, 1000); }) };
const peek = { type: 'demo/peek', version: 1, title: 'Peek', category: 'demo', description: 'Sends a preview; outputs whether previews are shown.',
  params: { type: 'object', properties: {} }, inputs: {}, outputs: { text: { type: 'text' } },
  run: ({ context }) => { context.progress(1, { message: 'peeked', preview: { mime: 'image/png', data: new Uint8Array([1, 2, 3]), width: 1, height: 1 } }); return { text: String(context.previews) }; } };
const big = { type: 'demo/big', version: 1, title: 'Big', category: 'demo', description: 'Declares a size, allocates nothing.',
  params: { type: 'object', properties: { bytes: { type: 'integer', default: 2000000 } } }, inputs: {}, outputs: {},
  memory: ({ params }) => ({ outputs: {}, scratchBytes: params.bytes }), run: () => ({}) };
export default () => ({ name: 'demo-plugin', nodes: [text, save, fail, wait, stray, hang, peek, big] });
`;

function kinegraph(
  args: string[],
  onSpawn?: (child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    onSpawn?.(child);
  });
}

const workflow = (nodes: Record<string, unknown>) => JSON.stringify({ format: 'kinegraph/workflow@1', nodes });

beforeAll(async () => {
  if (!existsSync(fileURLToPath(new URL('../../dist/cli.js', import.meta.url))))
    throw new Error('Run `npm run build -w @kinegraph/core` first (npm test does).');
  project = await mkdtemp(join(tmpdir(), 'kg-cli-'));
  await mkdir(join(project, 'plugins', 'demo'), { recursive: true });
  await writeFile(
    join(project, 'plugins', 'demo', 'package.json'),
    JSON.stringify({
      name: 'demo-plugin',
      version: '0.1.0',
      type: 'module',
      kinegraph: { apiVersion: 1, plugins: ['index.js'] },
    }),
  );
  await writeFile(join(project, 'plugins', 'demo', 'index.js'), pluginSource);
  await mkdir(join(project, 'plugins', 'future'), { recursive: true });
  await writeFile(
    join(project, 'plugins', 'future', 'package.json'),
    JSON.stringify({ name: 'future-plugin', kinegraph: { apiVersion: 99, plugins: ['index.js'] } }),
  );
  await writeFile(
    join(project, 'ok.json'),
    workflow({
      t: { type: 'demo/text', version: 1 },
      s: { type: 'demo/save', version: 1, inputs: { text: { node: 't', output: 'text' } } },
    }),
  );
  await writeFile(
    join(project, 'bad.json'),
    workflow({ t: { type: 'demo/txt', version: 1 }, s: { type: 'demo/save', version: 1, params: { nam: 1 } } }),
  );
  await writeFile(join(project, 'fail.json'), workflow({ f: { type: 'demo/fail', version: 1 } }));
  await writeFile(join(project, 'wait.json'), workflow({ w: { type: 'demo/wait', version: 1 } }));
  await writeFile(join(project, 'broken.json'), '{"format": ');
  await writeFile(join(project, 'stray.json'), workflow({ s: { type: 'demo/stray', version: 1 } }));
  await writeFile(
    join(project, 'peek.json'),
    workflow({
      p: { type: 'demo/peek', version: 1 },
      s: {
        type: 'demo/save',
        version: 1,
        params: { name: 'seen.txt' },
        inputs: { text: { node: 'p', output: 'text' } },
      },
    }),
  );
  await writeFile(join(project, 'hang.json'), workflow({ h: { type: 'demo/hang', version: 1 } }));
  await writeFile(join(project, 'big.json'), workflow({ b: { type: 'demo/big', version: 1 } }));
});

describe('kinegraph CLI', () => {
  it('run: exit 0, writes the output, prints its path; --set overrides a param', async () => {
    const result = await kinegraph([
      'run',
      'ok.json',
      '--set',
      's.name=hello.txt',
      '--set',
      't.text=a red circle',
      '--out',
      'o',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(join(project, 'o', 'hello.txt'));
    expect(await readdir(join(project, 'o'))).toEqual(['hello.txt']);
    expect(result.stderr).toContain('[s] done');
  });

  it('run --json: NDJSON events ending with run:done', async () => {
    const result = await kinegraph(['run', 'ok.json', '--json', '--out', 'o2']);
    expect(result.code).toBe(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(events[0]!.type).toBe('run:start');
    expect(events.at(-1)!.type).toBe('run:done');
  });

  it('makes previews only for a --json reader who asks with --previews; the message still goes out', async () => {
    const progress = (stdout: string) =>
      stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; message?: string; preview?: unknown })
        .filter((e) => e.type === 'node:progress');
    const seen = (out: string) => readFile(join(project, out, 'seen.txt'), 'utf8');
    const plain = await kinegraph(['run', 'peek.json', '--json', '--out', 'p1']);
    expect(plain.code).toBe(0);
    expect(await seen('p1')).toBe('false');
    expect(progress(plain.stdout)).toEqual([expect.objectContaining({ message: 'peeked' })]);
    expect(progress(plain.stdout)[0]).not.toHaveProperty('preview');
    const asked = await kinegraph(['run', 'peek.json', '--json', '--previews', '--out', 'p2']);
    expect(await seen('p2')).toBe('true');
    expect(progress(asked.stdout)[0]).toHaveProperty('preview');
    const terminal = await kinegraph(['run', 'peek.json', '--previews', '--out', 'p3']);
    expect(terminal.code).toBe(0);
    expect(await seen('p3')).toBe('false');
  });

  it('exit 1 for an invalid workflow, listing every problem', async () => {
    const result = await kinegraph(['run', 'bad.json']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('NODE_TYPE_UNKNOWN');
    expect(result.stderr).toContain('Did you mean "demo/text"');
    expect(result.stderr).toContain('PARAM_UNKNOWN');
    expect(result.stderr).toContain('INPUT_MISSING');
    const validate = await kinegraph(['validate', 'bad.json', '--json']);
    expect(validate.code).toBe(1);
    expect((JSON.parse(validate.stdout) as { issues: unknown[] }).issues).toHaveLength(3);
    expect((await kinegraph(['validate', 'ok.json'])).code).toBe(0);
    expect((await kinegraph(['run', 'broken.json'])).code).toBe(1);
    expect((await kinegraph(['run', 'ok.json', '--set', 'nobody.x=1'])).stderr).toContain('SET_TARGET_UNKNOWN');
  });

  it('exit 2 for a runtime error, naming the node, its code and hint', async () => {
    const result = await kinegraph(['run', 'fail.json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('failed at node "f": DEMO_BROKEN: kaput');
    expect(result.stderr).toContain('hint: do not use demo/fail');
  });

  it('exit 130 when Ctrl-C cancels a run', async () => {
    const result = await kinegraph(['run', 'wait.json'], (child) => {
      child.stderr!.on('data', (d: Buffer) => {
        if (String(d).includes('waiting')) child.kill('SIGINT');
      });
    });
    expect(result.code).toBe(130);
    expect(result.stderr).toContain('cancelled');
  });

  it('nodes --json gives JSON Schemas; plugins reports what loaded and what was skipped', async () => {
    const nodes = JSON.parse((await kinegraph(['nodes', '--json'])).stdout) as {
      nodes: Array<{ type: string; params: object }>;
    };
    expect(nodes.nodes.map((n) => n.type)).toEqual(expect.arrayContaining(['demo/text', 'demo/save']));
    const plugins = await kinegraph(['plugins']);
    expect(plugins.code).toBe(0);
    expect(plugins.stdout).toContain('demo-plugin');
    expect(plugins.stdout).toContain('PLUGIN_API_UNSUPPORTED');
  });

  it('isolates plugin failures: a throw outside the node\u2019s promise and a hang each fail the run, naming the node', async () => {
    const stray = await kinegraph(['run', 'stray.json']);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('failed at node "s": NODE_UNCAUGHT_ERROR');
    expect(stray.stderr).toContain('stray throw');
    const hang = await kinegraph(['run', 'hang.json', '--timeout', '0.3']);
    expect(hang.code).toBe(2);
    expect(hang.stderr).toContain('failed at node "h": NODE_TIMEOUT');
  });

  it('records the providing package of each node type in what it runs', async () => {
    const result = await kinegraph(['run', 'ok.json', '--json', '--out', 'o3']);
    expect(result.code).toBe(0);
    const { Runtime } = await import('../runtime.js');
    const runtime = await Runtime.create({ discover: { cwd: project } });
    const validated = runtime.validate(
      JSON.parse(await (await import('node:fs/promises')).readFile(join(project, 'ok.json'), 'utf8')),
    );
    expect(validated.ok && validated.prepared.workflow.metadata?.nodeTypes).toEqual({
      'demo/text': { package: 'demo-plugin', version: '0.1.0' },
      'demo/save': { package: 'demo-plugin', version: '0.1.0' },
    });
  });

  it('run --memory sets the run\u2019s budget: a node declaring more is refused (exit 2), a size is checked', async () => {
    const refused = await kinegraph(['run', 'big.json', '--memory', '1MB']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('failed at node "b": MEMORY_BUDGET_EXCEEDED');
    expect(refused.stderr).toContain('memory budget of 977 KB'); // 1 MB is 10^6 bytes
    expect(refused.stderr).toContain('refused before the run');
    expect((await kinegraph(['run', 'big.json', '--memory', '2MiB'])).code).toBe(0); // 2 097 152 bytes
    expect((await kinegraph(['run', 'big.json', '--memory', '1999999'])).code).toBe(2);
    const bad = await kinegraph(['run', 'big.json', '--memory', '2G']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--memory takes a size such as 2GB, 512MiB or a number of bytes (got "2G")');
    expect((await kinegraph(['run', 'big.json', '--memroy', '2GB'])).stderr).toContain('Did you mean --memory?');
  });

  it('usage errors exit 1', async () => {
    expect((await kinegraph(['frobnicate'])).code).toBe(1);
    expect((await kinegraph(['run'])).code).toBe(1);
    expect((await kinegraph(['--help'])).code).toBe(0);
  });
});
