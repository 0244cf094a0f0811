import { describe, expect, it } from 'vitest';
import { applyModes, type ModeNode, type PortsOf } from './modes.js';
import type { Workflow } from './schema.js';
import { expandSubgraphs } from './subgraphs.js';
import { selectTargets } from './targets.js';

const wf = (w: Omit<Workflow, 'format'>): Workflow => ({ format: 'kinegraph/workflow@1', ...w });

// A pipeline: text → blur (a subgraph of two nodes) → save.
const blurred = wf({
  nodes: {
    text: { type: 't/text', version: 1, params: { value: 'x' } },
    blur: {
      type: 'subgraph/blur2',
      version: 1,
      params: { strength: 3 },
      inputs: { image: { node: 'text', output: 'out' } },
    },
    save: { type: 't/save', version: 1, inputs: { image: { node: 'blur', output: 'image' } } },
  },
  subgraphs: {
    blur2: {
      name: 'Blur twice',
      inputs: { image: { type: 'image' } },
      outputs: { image: { node: 'b', output: 'out' } },
      params: { strength: { node: 'a', param: 'radius' } },
      nodes: {
        a: {
          type: 't/blur',
          version: 1,
          params: { radius: 1 },
          inputs: { image: { node: '$input', output: 'image' } },
        },
        b: { type: 't/blur', version: 1, params: { radius: 1 }, inputs: { image: { node: 'a', output: 'out' } } },
      },
    },
  },
});

describe('subgraph expansion', () => {
  it('runs inner nodes as <instance>:<inner>, with edges routed through the instance and exposed params set', () => {
    const { nodes, issues, instances } = expandSubgraphs(blurred);
    expect(issues).toEqual([]);
    expect([...nodes.keys()]).toEqual(['text', 'blur:a', 'blur:b', 'save']);
    expect(nodes.get('blur:a')!.node).toEqual({
      type: 't/blur',
      version: 1,
      params: { radius: 3 },
      inputs: { image: { node: 'text', output: 'out' } },
    });
    expect(nodes.get('blur:b')!.node.params).toEqual({ radius: 1 });
    expect(nodes.get('save')!.node.inputs).toEqual({ image: { node: 'blur:b', output: 'out' } });
    expect(nodes.get('blur:a')!.pointer).toBe('/subgraphs/blur2/nodes/a');
    expect(nodes.get('blur:a')!.path).toEqual(['blur']);
    expect(instances.get('blur')).toEqual(['blur:a', 'blur:b']);
  });

  it('nests, and reports subgraphs that contain themselves, unknown ones, unknown params and unconnected inputs', () => {
    const nested = structuredClone(blurred);
    nested.subgraphs!.outer = {
      name: 'Outer',
      inputs: { image: { type: 'image' } },
      outputs: { image: { node: 'inner', output: 'image' } },
      nodes: {
        inner: { type: 'subgraph/blur2', version: 1, inputs: { image: { node: '$input', output: 'image' } } },
      },
    };
    nested.nodes.blur = { type: 'subgraph/outer', version: 1, inputs: { image: { node: 'text', output: 'out' } } };
    const ok = expandSubgraphs(nested);
    expect(ok.issues).toEqual([]);
    expect(ok.nodes.get('save')!.node.inputs).toEqual({ image: { node: 'blur:inner:b', output: 'out' } });
    expect(ok.nodes.get('blur:inner:a')!.node.inputs).toEqual({ image: { node: 'text', output: 'out' } });

    const broken = structuredClone(blurred);
    broken.subgraphs!.blur2!.nodes.c = { type: 'subgraph/blur2', version: 1 };
    broken.nodes.ghost = { type: 'subgraph/nope', version: 1 };
    broken.nodes.blur!.params = { radius: 2 };
    delete broken.nodes.blur!.inputs;
    const codes = expandSubgraphs(broken).issues.map((i) => `${i.code} ${i.nodeId ?? ''} ${i.pointer}`);
    expect(codes).toEqual(
      expect.arrayContaining([
        'SUBGRAPH_CYCLE blur:c /subgraphs/blur2/nodes/c/type',
        'SUBGRAPH_UNKNOWN ghost /nodes/ghost/type',
        'PARAM_UNKNOWN blur /nodes/blur/params/radius',
        'INPUT_MISSING blur /nodes/blur/inputs/image',
      ]),
    );
  });

  it('a muted instance mutes its nodes; a bypassed one passes its input of the same type on', () => {
    const muted = structuredClone(blurred);
    muted.nodes.blur!.mode = 'mute';
    expect(expandSubgraphs(muted).nodes.get('blur:a')!.node.mode).toBe('mute');
    const bypassed = structuredClone(blurred);
    bypassed.nodes.blur!.mode = 'bypass';
    const { nodes } = expandSubgraphs(bypassed, (type, output) =>
      type === 't/blur' && output === 'out' ? 'image' : undefined,
    );
    expect(nodes.has('blur:a')).toBe(false);
    expect(nodes.get('save')!.node.inputs).toEqual({ image: { node: 'text', output: 'out' } });
  });

  it('a workflow without instances comes out as it went in', () => {
    const plain = wf({ nodes: { a: { type: 't/text', version: 1, params: { value: 'v' } } } });
    const { nodes, issues } = expandSubgraphs(plain);
    expect(issues).toEqual([]);
    expect(nodes.get('a')!.node).toEqual(plain.nodes.a);
  });
});

const ports: Record<string, PortsOf> = {
  't/text': { inputs: {}, outputs: { out: { type: 'image' } } },
  't/blur': {
    inputs: { image: { type: 'image' }, mask: { type: 'mask', optional: true } },
    outputs: { out: { type: 'image' } },
  },
  't/save': { inputs: { image: { type: 'image' } }, outputs: {} },
  't/mask': { inputs: {}, outputs: { out: { type: 'mask' } } },
};

describe('bypass and mute', () => {
  const graph = (modes: Record<string, 'bypass' | 'mute'>): Map<string, ModeNode> =>
    new Map<string, ModeNode>(
      Object.entries<ModeNode>({
        text: { type: 't/text' },
        mask: { type: 't/mask' },
        blur: {
          type: 't/blur',
          inputs: { image: { node: 'text', output: 'out' }, mask: { node: 'mask', output: 'out' } },
        },
        save: { type: 't/save', inputs: { image: { node: 'blur', output: 'out' } } },
      }).map(([id, n]) => [id, { ...n, ...(modes[id] ? { mode: modes[id] } : {}) }]),
    );

  it('bypass passes the input of the same port type to whatever reads the output', () => {
    const { inputs, skipped } = applyModes(graph({ blur: 'bypass' }), (t) => ports[t]);
    expect(skipped).toEqual(new Map([['blur', 'bypassed']]));
    expect(inputs.get('save')).toEqual({ image: { node: 'text', output: 'out' } });
  });

  it('mute skips the node and what needs it; an optional input from a muted node is just left out', () => {
    const muted = applyModes(graph({ blur: 'mute' }), (t) => ports[t]);
    expect(muted.skipped).toEqual(
      new Map([
        ['blur', 'muted'],
        ['save', 'needs-skipped'],
      ]),
    );
    expect([...muted.inputs.keys()]).toEqual(['text', 'mask']);
    const mask = applyModes(graph({ mask: 'mute' }), (t) => ports[t]);
    expect(mask.inputs.get('blur')).toEqual({ image: { node: 'text', output: 'out' } });
    expect(mask.inputs.has('save')).toBe(true);
    // A bypassed node whose input comes from a muted one passes nothing: what reads it does not run.
    const both = applyModes(graph({ text: 'mute', blur: 'bypass' }), (t) => ports[t]);
    expect(both.skipped.get('save')).toBe('needs-skipped');
  });

  it('a muted node of an unknown type is fine', () => {
    const nodes = graph({});
    nodes.set('ghost', { type: 'acme/ghost', mode: 'mute', inputs: { x: { node: 'text', output: 'out' } } });
    const { skipped } = applyModes(nodes, (t) => ports[t]);
    expect(skipped.get('ghost')).toBe('muted');
  });
});

describe('partial runs', () => {
  it('keeps the targets and what they need; instance ids stand for their nodes; unknown and skipped targets are reported', () => {
    const inputs: Record<string, Record<string, { node: string; output: string }>> = {
      text: {},
      'blur:a': { image: { node: 'text', output: 'out' } },
      'blur:b': { image: { node: 'blur:a', output: 'out' } },
      save: { image: { node: 'blur:b', output: 'out' } },
      other: {},
    };
    const inputsOf = (id: string) => inputs[id];
    const instances = new Map([['blur', ['blur:a', 'blur:b']]]);
    expect([...selectTargets(['blur:a'], inputsOf, new Map(), instances).keep].sort()).toEqual(['blur:a', 'text']);
    expect([...selectTargets(['blur'], inputsOf, new Map(), instances).keep].sort()).toEqual([
      'blur:a',
      'blur:b',
      'text',
    ]);
    const bad = selectTargets(['nope', 'muted'], inputsOf, new Map([['muted', 'muted']]), instances);
    expect(bad.issues.map((i) => i.code)).toEqual(['TARGET_UNKNOWN', 'TARGET_SKIPPED']);
  });
});
