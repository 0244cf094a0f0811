// Blueprints: checked and registered with their plugin (in code or as files a package lists), with coded
// errors for a bad or clashing one; the `subgraph` namespace is reserved for workflows' subgraphs.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findPlugins, loadPlugins } from '../plugins/discover.js';
import { testPlugin } from '../test-support/plugin.js';
import { describeNodes } from './describe.js';
import { NodeRegistry } from './registry.js';

const blueprint = (type: string) => ({
  format: 'kinegraph/blueprint@1',
  type,
  version: 1,
  subgraph: {
    name: 'Shout',
    inputs: { text: { type: 'text' } },
    outputs: { text: { node: 'up', output: 'text' } },
    nodes: { up: { type: 'test/upper', version: 2, inputs: { text: { node: '$input', output: 'text' } } } },
  },
});

const codeOf = (fn: () => void) => {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};

describe('blueprints in the registry', () => {
  it('registers a plugin’s blueprints and describes them for clients', async () => {
    const registry = new NodeRegistry();
    registry.register({ ...(await testPlugin()), blueprints: [blueprint('test/shout')] });
    expect(registry.blueprint('test/shout')?.blueprint.subgraph.name).toBe('Shout');
    const [described] = describeNodes(registry).blueprints;
    expect(described).toMatchObject({ type: 'test/shout', title: 'Shout', category: 'blueprints', version: 1 });
  });

  it('refuses a bad blueprint, a clash, and node types in the subgraph namespace, registering nothing', async () => {
    const registry = new NodeRegistry();
    const plugin = await testPlugin();
    expect(codeOf(() => registry.register({ ...plugin, blueprints: [{ ...blueprint('test/x'), version: 0 }] }))).toBe(
      'BLUEPRINT_INVALID',
    );
    expect(registry.types()).toEqual([]);
    expect(codeOf(() => registry.register({ ...plugin, blueprints: [blueprint('test/upper')] }))).toBe(
      'BLUEPRINT_DUPLICATE',
    );
    expect(
      codeOf(() => registry.register({ name: 'evil', nodes: [{ ...plugin.nodes![0]!, type: 'subgraph/x' } as never] })),
    ).toBe('NODE_TYPE_INVALID');
  });
});

describe('blueprint files', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'kg-blueprints-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));
  const pkg = (name: string, files: Record<string, string>, blueprints: string[]) => {
    const dir = join(cwd, 'plugins', name);
    mkdirSync(join(dir, 'blueprints'), { recursive: true });
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name, version: '1.0.0', kinegraph: { apiVersion: 1, blueprints } }),
    );
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  };

  it('a package of blueprints only loads them; a malformed file fails its package with a coded error', async () => {
    pkg('good-blueprints', { 'blueprints/shout.json': JSON.stringify(blueprint('good/shout')) }, [
      'blueprints/shout.json',
    ]);
    pkg('bad-blueprints', { 'blueprints/broken.json': '{ nope' }, ['blueprints/broken.json']);
    const registry = new NodeRegistry();
    const report = await loadPlugins(await findPlugins(cwd), registry);
    expect(registry.blueprint('good/shout')?.source.package).toBe('good-blueprints');
    expect(report.failed.map((f) => [f.package, f.error.code])).toEqual([['bad-blueprints', 'BLUEPRINT_INVALID']]);
  });
});
