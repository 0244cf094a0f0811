// A hostile plugin (fixtures/escape-plugin) tries every way out of its sandbox; each attempt must fail
// the run with a coded error naming the plugin, leave the runtime's own process untouched, and leave the
// plugin usable for the next run.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunEvent, Runtime } from '../../packages/core/src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/escape-plugin', import.meta.url));

let root: string;
let project: string;
let outside: string;
let runtime: Runtime;
const logs: string[] = [];

function run(attempt: string, path = ''): Promise<RunEvent[]> {
  const workflow = {
    format: 'kinegraph/workflow@1',
    nodes: { x: { type: 'escape/attempt', version: 2, params: { attempt, path } } },
  };
  return new Promise((resolve, reject) => {
    const events: RunEvent[] = [];
    runtime
      .run(workflow, { outputFolder: join(project, 'outputs'), allowedFolders: [join(project, 'inputs')] })
      .subscribe({ next: (e) => events.push(e), error: reject, complete: () => resolve(events) });
  });
}

function outcome(events: RunEvent[]): { type: string; code?: string; message?: string; text?: unknown } {
  const last = events.at(-1)!;
  if (last.type === 'run:error') return { type: last.type, code: last.error.code, message: last.error.message };
  const done = events.find((e) => e.type === 'node:done');
  return {
    type: last.type,
    text: done?.type === 'node:done' ? (done.outputs.text as { value?: unknown }).value : undefined,
  };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'kg-escape-'));
  project = join(root, 'project');
  outside = join(root, 'outside');
  cpSync(fixture, join(project, 'plugins', 'escape-plugin'), { recursive: true });
  // Not a real addon: the permission model refuses before reading it.
  writeFileSync(join(project, 'plugins', 'escape-plugin', 'fake-addon.node'), 'not an addon');
  mkdirSync(join(project, 'inputs'));
  writeFileSync(join(project, 'inputs', 'ok.txt'), 'inside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'secret');
  // A plugin whose entry file itself reaches for your SSH keys when it is imported.
  const greedy = join(project, 'plugins', 'greedy');
  mkdirSync(greedy, { recursive: true });
  writeFileSync(
    join(greedy, 'package.json'),
    JSON.stringify({ name: 'greedy-plugin', type: 'module', kinegraph: { apiVersion: 1, plugins: ['index.js'] } }),
  );
  writeFileSync(
    join(greedy, 'index.js'),
    `import { readFileSync } from 'node:fs';\nreadFileSync(${JSON.stringify(join(homedir(), '.ssh', 'id_ed25519'))});\nexport default { name: 'greedy-plugin', nodes: [] };\n`,
  );
  process.env.KINEGRAPH_ESCAPE_TEST_SECRET = 'do-not-leak';
  runtime = await Runtime.create({
    discover: { cwd: project },
    nodeTimeoutMs: 3000,
    pluginLog: (line) => logs.push(line),
  });
});

afterAll(async () => {
  await runtime?.close();
  delete process.env.KINEGRAPH_ESCAPE_TEST_SECRET;
});

describe('an isolated plugin', () => {
  it('is listed as isolated, with default grants', () => {
    const loaded = runtime.discovery.loaded.find((p) => p.name === 'escape-plugin')!;
    expect(loaded.isolation).toMatchObject({
      mode: 'isolated',
      grants: { childProcess: false, worker: false, addons: false, network: false, read: [], write: [] },
    });
  });

  it('cannot read your SSH keys at import time: it is skipped with PLUGIN_PERMISSION_DENIED naming it', () => {
    const failed = runtime.discovery.failed.find((f) => f.package === 'greedy-plugin');
    expect(failed?.error.code).toBe('PLUGIN_PERMISSION_DENIED');
    expect(failed?.error.message).toContain('"greedy-plugin"');
    expect(failed?.error.message).toContain(join(homedir(), '.ssh'));
  });

  it.each([
    ['read-ssh', () => '', 'read'],
    ['read-outside', () => join(outside, 'secret.txt'), 'read'],
    ['write-outside', () => join(outside, 'pwned.txt'), 'write'],
    ['spawn', () => '', 'start a program'],
    ['worker', () => '', 'start a worker thread'],
    ['addon', () => '', 'native addon'],
    ['binding', () => '', 'process.binding'],
    ['load-model-outside', () => join(outside, 'secret.txt'), 'load the model'],
    ['forge-tensor', () => '', 'neither an input of the node nor made by it'],
  ])('%s fails the run with PLUGIN_PERMISSION_DENIED naming the plugin', async (attempt, path, what) => {
    const result = outcome(await run(attempt, path()));
    expect(result).toMatchObject({ type: 'run:error', code: 'PLUGIN_PERMISSION_DENIED' });
    expect(result.message).toContain('Plugin "escape-plugin"');
    expect(result.message).toContain(what);
    expect(result.message).toContain('node "x"');
    expect(existsSync(join(outside, 'pwned.txt'))).toBe(false);
  });

  it('reads inside the allowed folders, directly and through context.files, and writes its outputs', async () => {
    expect(outcome(await run('read-allowed', join(project, 'inputs', 'ok.txt')))).toEqual({
      type: 'run:done',
      text: 'inside',
    });
    expect(outcome(await run('files-read', 'ok.txt'))).toEqual({ type: 'run:done', text: 'inside' });
    expect(outcome(await run('files-write'))).toEqual({
      type: 'run:done',
      text: join(project, 'outputs', 'escape.txt'),
    });
  });

  it('sees none of your environment variables', async () => {
    const result = outcome(await run('env'));
    expect(result.type).toBe('run:done');
    const names = String(result.text).split(',');
    expect(names).not.toContain('KINEGRAPH_ESCAPE_TEST_SECRET');
    expect(names).not.toContain('HOME');
    expect(names).toContain('KINEGRAPH_CACHE');
  });

  it('tampering with built-ins fails with PLUGIN_GLOBALS_TAMPERED; the runtime is untouched and the plugin restarts clean', async () => {
    const result = outcome(await run('globals'));
    expect(result).toMatchObject({ type: 'run:error', code: 'PLUGIN_GLOBALS_TAMPERED' });
    expect(result.message).toContain('Plugin "escape-plugin"');
    expect(result.message).toContain('Object.prototype.kinegraphPwned (added)');
    expect(result.message).toContain('JSON.parse (replaced)');
    expect(({} as { kinegraphPwned?: unknown }).kinegraphPwned).toBeUndefined();
    expect(JSON.parse('{"a":1}')).toEqual({ a: 1 });
    // A fresh process: its JSON.parse works again.
    expect(outcome(await run('files-read', 'ok.txt'))).toEqual({ type: 'run:done', text: 'inside' });
  });

  it('keeps its own coded errors: code, message and node', async () => {
    const events = await run('coded-error');
    const error = events.find((e) => e.type === 'node:error');
    expect(error).toMatchObject({
      nodeId: 'x',
      error: { code: 'ESCAPE_OWN_ERROR', message: 'a coded error of the plugin itself', hint: 'kept as it is' },
    });
  });

  it('sees the run\u2019s memory budget', async () => {
    const result = outcome(await run('budget'));
    const budget = JSON.parse(String(result.text)) as { bytes: number; available: number };
    expect(budget.bytes).toBeGreaterThan(0);
    expect(budget.available).toBeGreaterThan(0);
    expect(budget.available).toBeLessThanOrEqual(budget.bytes);
  });

  it('reports progress and warnings through the runtime', async () => {
    const events = await run('chatty');
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'node:progress', nodeId: 'x', fraction: 0.5, message: 'half way' }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'node:warning',
        nodeId: 'x',
        code: 'ESCAPE_WARNING',
        message: 'a warning from the plugin',
      }),
    );
    expect(outcome(events)).toEqual({ type: 'run:done', text: 'said things' });
  });

  it('sees the run cancelled through its context signal, and the run ends cancelled', async () => {
    const workflow = {
      format: 'kinegraph/workflow@1',
      nodes: { x: { type: 'escape/attempt', version: 2, params: { attempt: 'wait-for-cancel' } } },
    };
    const controller = new AbortController();
    const events: RunEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      runtime
        .run(workflow, { outputFolder: join(project, 'outputs'), allowedFolders: [], signal: controller.signal })
        .subscribe({
          next: (e) => {
            events.push(e);
            if (e.type === 'node:progress') controller.abort(new DOMException('cancelled by the test', 'AbortError'));
          },
          error: reject,
          complete: resolve,
        }),
    );
    expect(events.at(-1)?.type).toBe('run:cancelled');
    expect(outcome(await run('env')).type).toBe('run:done');
  });

  it('a crash fails the run with PLUGIN_CRASHED naming the plugin, and the next run starts a fresh process', async () => {
    const result = outcome(await run('crash'));
    expect(result).toMatchObject({ type: 'run:error', code: 'PLUGIN_CRASHED' });
    expect(result.message).toContain('"escape-plugin"');
    expect(result.message).toContain('exited with code 3');
    expect(outcome(await run('env')).type).toBe('run:done');
  });

  it('a node that hangs ignoring cancellation times out; its process is replaced for the next run', async () => {
    expect(outcome(await run('hang'))).toMatchObject({ type: 'run:error', code: 'NODE_TIMEOUT' });
    expect(outcome(await run('env')).type).toBe('run:done');
  });

  it('declares its memory from its process: an oversize declaration refuses the run before it starts', async () => {
    const events = await run('huge');
    expect(events.at(-1)).toMatchObject({
      type: 'run:error',
      error: { code: 'MEMORY_BUDGET_EXCEEDED', nodeId: 'x' },
    });
    expect(events.some((e) => e.type === 'node:start')).toBe(false);
  });

  it('cannot escape from its memory declaration either', async () => {
    const result = outcome(await run('memory-read-ssh'));
    expect(result).toMatchObject({ type: 'run:error', code: 'PLUGIN_PERMISSION_DENIED' });
    expect(result.message).toContain('Plugin "escape-plugin"');
    expect(result.message).toContain(join(homedir(), '.ssh'));
  });

  it('leaves no process behind when the runtime closes, even one stuck in a node', async () => {
    const other = await Runtime.create({ discover: { cwd: project }, nodeTimeoutMs: 300, pluginLog: () => undefined });
    const events: RunEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      other
        .run(
          {
            format: 'kinegraph/workflow@1',
            nodes: { x: { type: 'escape/attempt', version: 2, params: { attempt: 'hang' } } },
          },
          { outputFolder: join(project, 'outputs-stuck'), allowedFolders: [] },
        )
        .subscribe({ next: (e) => events.push(e), error: reject, complete: resolve }),
    );
    expect(events.at(-1)).toMatchObject({ type: 'run:error', error: { code: 'NODE_TIMEOUT' } });
    // Still spinning (its 2 s of grace have not passed): closing the runtime stops it.
    expect(pluginProcesses(join(project, 'outputs-stuck')).length).toBeGreaterThan(0);
    await other.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pluginProcesses(join(project, 'outputs-stuck'))).toEqual([]);
  });

  it('migrates saved nodes in a sandboxed process too', () => {
    const result = runtime.validate({
      format: 'kinegraph/workflow@1',
      nodes: { x: { type: 'escape/attempt', version: 1, params: { try: 'spawn' } } },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.prepared.migrated).toEqual([{ nodeId: 'x', from: 1, to: 2 }]);
    expect(result.prepared.nodes.get('x')!.params).toEqual({ attempt: 'spawn', path: '' });
  });
});

describe('the network', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is unreachable when the report says blocked, and reported open (with the reason) otherwise', async () => {
    const loaded = runtime.discovery.loaded.find((p) => p.name === 'escape-plugin')!;
    if (loaded.isolation.mode !== 'isolated') throw new Error('not isolated');
    const result = outcome(await run('network', String(port)));
    if (loaded.isolation.network.blocked) {
      // Even a server on this machine's loopback is out of reach.
      expect(result).toMatchObject({ type: 'run:error', code: 'PLUGIN_PERMISSION_DENIED' });
      expect(result.message).toContain('network');
    } else {
      expect(loaded.isolation.network.how).toMatch(/^not isolated: /);
      expect(result).toEqual({ type: 'run:done', text: 'connected' });
    }
  });
});

/** Plugin processes (not zombies) whose command line names `path` (their grants name the run's folders). */
function pluginProcesses(path: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        return state !== 'Z' && cmdline.includes('plugin-host.js') && cmdline.includes(path);
      } catch {
        return false;
      }
    })
    .map(Number);
}
