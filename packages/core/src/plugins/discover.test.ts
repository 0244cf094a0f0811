import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeRegistry } from '../registry/registry.js';
import { findPlugins, loadPlugins } from './discover.js';

const node = (type: string) =>
  `{ type: '${type}', version: 1, title: 't', category: 'c', description: 'd', params: { type: 'object', properties: {} }, inputs: {}, outputs: {}, run: () => ({}) }`;

async function pkg(dir: string, name: string, kinegraph: unknown, source?: string) {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.2.3', type: 'module', ...(kinegraph === undefined ? {} : { kinegraph }) }),
  );
  if (source) await writeFile(join(dir, 'index.js'), source);
}

describe('plugin discovery', () => {
  it('finds plugins in plugins/ and node_modules (scoped too), loads the good ones and reports the rest', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kg-discover-'));
    const entry = { apiVersion: 1, plugins: ['index.js'] };
    await pkg(
      join(root, 'plugins', 'local'),
      'local-plugin',
      entry,
      `export default () => ({ name: 'local-plugin', nodes: [${node('local/a')}] })`,
    );
    await pkg(
      join(root, 'node_modules', '@acme', 'grade'),
      '@acme/grade',
      entry,
      `export default { name: '@acme/grade', nodes: [${node('acme/grade')}] }`,
    );
    await pkg(
      join(root, 'node_modules', 'clash'),
      'clash',
      entry,
      `export default () => ({ name: 'clash', nodes: [${node('acme/grade')}] })`,
    );
    await pkg(
      join(root, 'node_modules', 'throws'),
      'throws',
      entry,
      `export default () => { throw new Error('setup exploded'); }`,
    );
    await pkg(
      join(root, 'node_modules', 'old-api'),
      'old-api',
      { apiVersion: 0, plugins: ['index.js'] },
      'export default {}',
    );
    await pkg(join(root, 'node_modules', 'missing-entry'), 'missing-entry', entry);
    await pkg(join(root, 'node_modules', 'not-a-plugin'), 'not-a-plugin', undefined, 'export default 1');

    const candidates = await findPlugins(root);
    expect(candidates.map((c) => c.package).sort()).toEqual([
      '@acme/grade',
      'clash',
      'local-plugin',
      'missing-entry',
      'old-api',
      'throws',
    ]);
    const registry = new NodeRegistry();
    const report = await loadPlugins(candidates, registry);
    expect(report.loaded.map((p) => p.name).sort()).toEqual(['@acme/grade', 'local-plugin']);
    expect(registry.get('acme/grade')!.source).toMatchObject({ package: '@acme/grade', version: '1.2.3' });
    const failures = Object.fromEntries(report.failed.map((f) => [f.package, f.error]));
    expect(failures.clash!.code).toBe('NODE_TYPE_DUPLICATE');
    expect(failures.clash!.message).toContain('"@acme/grade" and "clash"');
    expect(failures.throws!.code).toBe('PLUGIN_LOAD_FAILED');
    expect(failures.throws!.message).toContain('setup exploded');
    expect(failures['old-api']!.code).toBe('PLUGIN_API_UNSUPPORTED');
    expect(failures['missing-entry']!.code).toBe('PLUGIN_LOAD_FAILED');
  });

  it('loads a package once when plugins/ and node_modules reach the same folder (an npm workspace link)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kg-discover-'));
    await pkg(
      join(root, 'plugins', 'grade'),
      '@acme/grade',
      { apiVersion: 1, plugins: ['index.js'] },
      `export default () => ({ name: '@acme/grade', nodes: [${node('acme/grade')}] })`,
    );
    await mkdir(join(root, 'node_modules', '@acme'), { recursive: true });
    await symlink(join(root, 'plugins', 'grade'), join(root, 'node_modules', '@acme', 'grade'), 'dir');

    const candidates = await findPlugins(root);
    expect(candidates.map((c) => [c.package, c.origin])).toEqual([['@acme/grade', 'plugins-folder']]);
    const report = await loadPlugins(candidates, new NodeRegistry());
    expect(report.failed).toEqual([]);
    expect(report.loaded.map((p) => [p.name, p.nodeTypes])).toEqual([['@acme/grade', ['acme/grade']]]);
  });

  it('reads only the project\u2019s own plugins/ and node_modules, never a node_modules above the project', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kg-discover-'));
    const entry = { apiVersion: 1, plugins: ['index.js'] };
    // Two levels above the project: a package that would run code if discovery walked up.
    await pkg(join(root, 'node_modules', 'above'), 'above', entry, `export default { name: 'above', nodes: [] }`);
    await pkg(join(root, 'a', 'node_modules', 'above-too'), 'above-too', entry, 'export default {}');
    const project = join(root, 'a', 'project');
    await pkg(join(project, 'node_modules', 'own'), 'own', entry, `export default { name: 'own', nodes: [] }`);
    await pkg(join(project, 'plugins', 'local'), 'local', entry, `export default { name: 'local', nodes: [] }`);
    expect((await findPlugins(project)).map((c) => c.package).sort()).toEqual(['local', 'own']);
  });
});
