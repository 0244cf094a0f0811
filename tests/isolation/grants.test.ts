// What the user grants in kinegraph.grants.json, and what `kinegraph plugins` shows of it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunEvent, Runtime } from '../../packages/core/src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/escape-plugin', import.meta.url));
const cli = fileURLToPath(new URL('../../packages/core/bin/kinegraph.js', import.meta.url));

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

/** A project with the escape plugin, an outside folder, and the given grants file (if any). */
function project(grants?: unknown): { dir: string; outside: string } {
  const root = mkdtempSync(join(tmpdir(), 'kg-grants-'));
  const dir = join(root, 'project');
  cpSync(fixture, join(dir, 'plugins', 'escape-plugin'), { recursive: true });
  const outside = join(root, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'data.txt'), 'granted');
  if (grants !== undefined)
    writeFileSync(
      join(dir, 'kinegraph.grants.json'),
      typeof grants === 'string' ? grants : JSON.stringify(grants).replaceAll('$OUTSIDE', outside),
    );
  return { dir, outside };
}

async function attempt(runtime: Runtime, dir: string, what: string, path = '') {
  const events: RunEvent[] = [];
  await new Promise<void>((resolve, reject) =>
    runtime
      .run(
        {
          format: 'kinegraph/workflow@1',
          nodes: { x: { type: 'escape/attempt', version: 2, params: { attempt: what, path } } },
        },
        { outputFolder: join(dir, 'outputs'), allowedFolders: [] },
      )
      .subscribe({ next: (e) => events.push(e), error: reject, complete: resolve }),
  );
  const last = events.at(-1)!;
  if (last.type === 'run:error') return { code: last.error.code, message: last.error.message };
  const done = events.find((e) => e.type === 'node:done');
  return { text: done?.type === 'node:done' ? (done.outputs.text as { value?: unknown }).value : undefined };
}

async function create(dir: string): Promise<Runtime> {
  const runtime = await Runtime.create({ discover: { cwd: dir }, pluginLog: () => undefined });
  runtimes.push(runtime);
  return runtime;
}

describe('kinegraph.grants.json', () => {
  it('grants what it names to the plugin it names, and nothing else', async () => {
    const { dir, outside } = project({
      plugins: {
        'escape-plugin': {
          childProcess: true,
          worker: true,
          addons: true,
          read: ['$OUTSIDE'],
          env: ['KINEGRAPH_GRANTED_VAR'],
        },
      },
    });
    writeFileSync(join(dir, 'plugins', 'escape-plugin', 'fake-addon.node'), 'not an addon');
    process.env.KINEGRAPH_GRANTED_VAR = 'yes';
    try {
      const runtime = await create(dir);
      expect(await attempt(runtime, dir, 'spawn')).toMatchObject({ text: expect.stringContaining('uid=') });
      expect(await attempt(runtime, dir, 'worker')).toMatchObject({ text: expect.any(String) });
      expect(await attempt(runtime, dir, 'read-outside', join(outside, 'data.txt'))).toEqual({ text: 'granted' });
      expect(String((await attempt(runtime, dir, 'env')).text).split(',')).toContain('KINEGRAPH_GRANTED_VAR');
      // Addons granted: the fake one gets as far as the dynamic loader, which finds it is not a library.
      const addon = await attempt(runtime, dir, 'addon');
      expect(addon.code).toBe('ERR_DLOPEN_FAILED');
      expect(addon.message).toMatch(/fake-addon\.node/);
      // Not granted: writing there, and native addons.
      expect(await attempt(runtime, dir, 'write-outside', join(outside, 'x.txt'))).toMatchObject({
        code: 'PLUGIN_PERMISSION_DENIED',
      });
      expect(await attempt(runtime, dir, 'binding')).toMatchObject({ code: 'PLUGIN_PERMISSION_DENIED' });
    } finally {
      delete process.env.KINEGRAPH_GRANTED_VAR;
    }
  });

  it('"isolate": false loads the plugin into the runtime, with all of its rights', async () => {
    const { dir, outside } = project({ plugins: { 'escape-plugin': { isolate: false } } });
    const runtime = await create(dir);
    expect(runtime.discovery.loaded.find((p) => p.name === 'escape-plugin')?.isolation).toEqual({
      mode: 'in-process',
      reason: '"isolate": false in kinegraph.grants.json',
    });
    expect(await attempt(runtime, dir, 'read-outside', join(outside, 'data.txt'))).toEqual({ text: 'granted' });
  });

  it('a grants file that is not valid refuses to start, rather than run plugins with grants nobody meant', async () => {
    const bad = project({ plugins: { 'escape-plugin': { childprocess: true } } });
    await expect(Runtime.create({ discover: { cwd: bad.dir } })).rejects.toMatchObject({
      code: 'GRANTS_INVALID',
      message: expect.stringContaining('childprocess'),
    });
    const broken = project('{ "plugins": ');
    await expect(Runtime.create({ discover: { cwd: broken.dir } })).rejects.toMatchObject({ code: 'GRANTS_INVALID' });
  });

  it('`kinegraph plugins` shows how each plugin runs and what it is granted', () => {
    const { dir } = project({ plugins: { 'escape-plugin': { childProcess: true } } });
    const result = spawnSync(process.execPath, [cli, 'plugins'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('escape-plugin@1.0.0  1 node types');
    expect(result.stdout).toMatch(/runs isolated: reads its package and dependencies \(\d+ folders\)/);
    expect(result.stdout).toMatch(/network: (blocked|OPEN) \(/);
    expect(result.stdout).toContain('granted: start programs');
    expect(result.stdout).toContain(`Grants: ${join(dir, 'kinegraph.grants.json')}`);
    const json = JSON.parse(
      spawnSync(process.execPath, [cli, 'plugins', '--json'], { cwd: dir, encoding: 'utf8', timeout: 60_000 }).stdout,
    ) as { loaded: Array<{ name: string; isolation: { mode: string; grants?: { childProcess: boolean } } }> };
    expect(json.loaded.find((p) => p.name === 'escape-plugin')?.isolation).toMatchObject({
      mode: 'isolated',
      grants: { childProcess: true },
    });
  });
});
