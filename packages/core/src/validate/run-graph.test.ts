// Validation of the graph that runs: subgraphs (and blueprints named as node types), bypass and mute, and
// partial runs, through validateWorkflow with the test node types; and one such workflow run end to end.
import { describe, expect, it } from 'vitest';
import { NodeRegistry } from '../registry/registry.js';
import { Runtime } from '../runtime.js';
import { testPlugin } from '../test-support/plugin.js';
import { validateWorkflow } from './validate.js';

const plugin = await testPlugin();
const registry = new NodeRegistry();
registry.register({
  ...plugin,
  blueprints: [
    {
      format: 'kinegraph/blueprint@1',
      type: 'test/shout-twice',
      version: 1,
      subgraph: {
        name: 'Shout twice',
        inputs: { text: { type: 'text' } },
        outputs: { text: { node: 'b', output: 'text' } },
        nodes: {
          a: { type: 'test/upper', version: 2, inputs: { text: { node: '$input', output: 'text' } } },
          b: { type: 'test/upper', version: 2, inputs: { text: { node: 'a', output: 'text' } } },
        },
      },
    },
  ],
});

const doc = () => ({
  format: 'kinegraph/workflow@1' as const,
  nodes: {
    hello: { type: 'test/text', version: 1, params: { text: 'hi' } },
    loud: {
      type: 'subgraph/loud',
      version: 1,
      params: { times: 3 },
      inputs: { text: { node: 'hello', output: 'text' } },
    },
    join: {
      type: 'test/join',
      version: 1,
      inputs: { a: { node: 'loud', output: 'text' }, b: { node: 'hello', output: 'text' } },
    },
  } as Record<string, Record<string, unknown>>,
  subgraphs: {
    loud: {
      name: 'Loud',
      inputs: { text: { type: 'text' } },
      outputs: { text: { node: 'up', output: 'text' } },
      params: { times: { node: 'up', param: 'times' } },
      nodes: {
        up: { type: 'test/upper', version: 2, inputs: { text: { node: '$input', output: 'text' } } },
      },
    },
  },
});

describe('subgraphs in validation', () => {
  it('runs a subgraph as its inner nodes, with exposed params set and defaults filled', () => {
    const result = validateWorkflow(doc(), registry);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.prepared.order).toEqual(['hello', 'loud:up', 'join']);
    expect(result.prepared.nodes.get('loud:up')!.params).toEqual({ times: 3, mode: 'upper' });
    expect(result.prepared.nodes.get('join')!.inputs).toEqual({
      a: { node: 'loud:up', output: 'text' },
      b: { node: 'hello', output: 'text' },
    });
    // What outputs embed keeps the subgraph.
    expect(result.prepared.workflow.nodes.loud!.type).toBe('subgraph/loud');
    expect(result.prepared.workflow.subgraphs?.loud).toBeDefined();
  });

  it('reports problems inside a subgraph at their place in the document', () => {
    const bad = doc();
    (bad.subgraphs.loud.nodes.up as Record<string, unknown>).params = { mode: 'sideways' };
    const result = validateWorkflow(bad, registry);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]).toMatchObject({ code: 'PARAM_INVALID', nodeId: 'loud:up' });
    expect(result.issues[0]!.pointer).toMatch(/^\/subgraphs\/loud\/nodes\/up\/params/);
  });

  it('a node named after a blueprint runs the blueprint', () => {
    const withBlueprint = doc();
    withBlueprint.nodes.loud = {
      type: 'test/shout-twice',
      version: 1,
      inputs: { text: { node: 'hello', output: 'text' } },
    };
    const result = validateWorkflow(withBlueprint, registry);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.prepared.order).toEqual(['hello', 'loud:a', 'loud:b', 'join']);
    const newer = doc();
    newer.nodes.loud = { type: 'test/shout-twice', version: 2, inputs: { text: { node: 'hello', output: 'text' } } };
    const refused = validateWorkflow(newer, registry);
    expect(refused.ok ? [] : refused.issues.map((i) => i.code)).toEqual(['NODE_VERSION_NEWER']);
  });
});

describe('modes in validation', () => {
  it('a muted node of a missing plugin is fine; what needs it is skipped; optional inputs from it drop', () => {
    const muted = doc();
    muted.nodes.ghost = { type: 'acme/not-installed', version: 1, mode: 'mute' };
    (muted.nodes.join!.inputs as Record<string, unknown>).b = { node: 'ghost', output: 'x' };
    const result = validateWorkflow(muted, registry);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.prepared.nodes.get('join')!.inputs).toEqual({ a: { node: 'loud:up', output: 'text' } });
    expect(result.prepared.skipped).toEqual(new Map([['ghost', 'muted']]));
    // Muting the instance mutes its nodes and skips join, which needs it.
    muted.nodes.loud!.mode = 'mute';
    const all = validateWorkflow(muted, registry);
    expect(all.ok && [...all.prepared.order]).toEqual(['hello']);
  });

  it('a bypassed subgraph instance passes its input on', () => {
    const bypassed = doc();
    bypassed.nodes.loud!.mode = 'bypass';
    const result = validateWorkflow(bypassed, registry);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.prepared.nodes.get('join')!.inputs.a).toEqual({ node: 'hello', output: 'text' });
    expect(result.prepared.order).toEqual(['hello', 'join']);
  });
});

describe('partial runs', () => {
  it('validates and prepares only what the targets need', () => {
    const broken = doc();
    broken.nodes.orphan = { type: 'test/upper', version: 2 }; // INPUT_MISSING, but not needed
    expect(validateWorkflow(broken, registry).ok).toBe(false);
    const result = validateWorkflow(broken, registry, { targets: ['loud'] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.prepared.order).toEqual(['hello', 'loud:up']);
    expect(result.prepared.targets).toEqual(['loud']);
    // The workflow that outputs embed is still the whole one.
    expect(Object.keys(result.prepared.workflow.nodes).sort()).toEqual(['hello', 'join', 'loud', 'orphan']);
    const unknown = validateWorkflow(broken, registry, { targets: ['nope'] });
    expect(unknown.ok ? [] : unknown.issues.map((i) => i.code)).toEqual(['TARGET_UNKNOWN']);
  });
});

describe('running', () => {
  it('runs a subgraph, reporting each inner node', async () => {
    const runtime = await Runtime.create({ plugins: [plugin], discover: false });
    try {
      const events: { type: string; nodeId?: string }[] = [];
      await new Promise<void>((resolve, reject) =>
        runtime.run(doc(), { outputFolder: '/tmp', allowedFolders: [], targets: ['join'] }).subscribe({
          next: (e) => events.push(e as { type: string; nodeId?: string }),
          error: reject,
          complete: resolve,
        }),
      );
      const done = events.filter((e) => e.type === 'node:done').map((e) => e.nodeId);
      expect(done).toEqual(['hello', 'loud:up', 'join']);
      expect(events.at(-1)?.type).toBe('run:done');
    } finally {
      await runtime.close();
    }
  });
});
