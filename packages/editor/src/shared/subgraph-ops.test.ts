// Subgraph edits on documents: convert a selection, unpack it again, and edit the inside through its view.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeNodes, Runtime, type Workflow } from '@kinegraph/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  applySubgraphView,
  convertToSubgraph,
  INPUTS_NODE_ID,
  OUTPUTS_NODE_ID,
  removePort,
  renamePort,
  subgraphPorts,
  subgraphView,
  type TypePorts,
  unpackSubgraph,
} from './subgraph-ops.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const textToVideo = JSON.parse(readFileSync(join(root, 'workflows', 'text-to-video.json'), 'utf8')) as Workflow;
let portsOf: (type: string) => TypePorts | undefined;

beforeAll(async () => {
  const runtime = await Runtime.create({ discover: { cwd: root } });
  const { nodes } = describeNodes(runtime.registry) as {
    nodes: { type: string; inputs: TypePorts['inputs']; outputs: TypePorts['outputs'] }[];
  };
  await runtime.close();
  portsOf = (type) => nodes.find((n) => n.type === type);
});

describe('convert to subgraph', () => {
  it('one instance takes the selection’s outside inputs, open inputs, read and unread outputs, and chosen params', () => {
    const { workflow, instanceId, subgraphId } = convertToSubgraph(textToVideo, ['prompt', 'sampler'], {
      name: 'Generate',
      params: [
        { node: 'prompt', param: 'text' },
        { node: 'sampler', param: 'seed' },
      ],
      portsOf,
    });
    expect(instanceId).toBe('generate');
    expect(Object.keys(workflow.nodes)).toEqual(['pack', 'generate', 'save']);
    const def = workflow.subgraphs![subgraphId]!;
    // Both inner nodes read pack.model: one subgraph input.
    expect(def.inputs).toEqual({
      model: { type: 'model' },
      negative: { type: 'embedding', optional: true },
      conditioning: { type: 'conditioning', optional: true },
      init: { type: 'video', optional: true },
    });
    expect(def.nodes.prompt!.inputs).toEqual({ model: { node: '$input', output: 'model' } });
    expect(def.nodes.sampler!.inputs).toMatchObject({
      model: { node: '$input', output: 'model' },
      positive: { node: 'prompt', output: 'embedding' },
    });
    expect(def.outputs).toEqual({ video: { node: 'sampler', output: 'video' } });
    expect(def.params).toEqual({ text: { node: 'prompt', param: 'text' }, seed: { node: 'sampler', param: 'seed' } });
    expect(workflow.nodes.generate).toMatchObject({
      type: 'subgraph/generate',
      version: 1,
      params: { text: textToVideo.nodes.prompt!.params!.text, seed: 42 },
      inputs: { model: { node: 'pack', output: 'model' } },
    });
    expect(workflow.nodes.save!.inputs).toEqual({ video: { node: 'generate', output: 'video' } });
    expect(subgraphPorts(workflow.subgraphs!, subgraphId, portsOf)?.outputs).toEqual({ video: { type: 'video' } });
  });

  it('unpacking gives back the nodes, with the instance’s params and edges', () => {
    const { workflow, instanceId } = convertToSubgraph(textToVideo, ['prompt', 'sampler'], {
      name: 'Generate',
      params: [{ node: 'sampler', param: 'seed' }],
      portsOf,
    });
    workflow.nodes[instanceId]!.params = { seed: 7 };
    const back = unpackSubgraph(workflow, instanceId).workflow;
    expect(back.subgraphs).toBeUndefined();
    expect(Object.keys(back.nodes).sort()).toEqual(['pack', 'prompt', 'sampler', 'save']);
    expect(back.nodes.sampler!.params!.seed).toBe(7);
    const strip = (w: Workflow) =>
      Object.fromEntries(Object.entries(w.nodes).map(([id, n]) => [id, { type: n.type, inputs: n.inputs ?? {} }]));
    expect(strip(back)).toEqual(strip(textToVideo));
  });
});

describe('the view of a subgraph', () => {
  it('shows its nodes with input and output nodes, and writes edits back', () => {
    const { workflow, subgraphId } = convertToSubgraph(textToVideo, ['prompt', 'sampler'], {
      name: 'Generate',
      portsOf,
    });
    const view = subgraphView(workflow, subgraphId);
    expect(Object.keys(view.nodes)).toEqual([INPUTS_NODE_ID, 'prompt', 'sampler', OUTPUTS_NODE_ID]);
    expect(view.nodes[OUTPUTS_NODE_ID]!.inputs).toEqual({ video: { node: 'sampler', output: 'video' } });
    // Unchanged view → same subgraph; an edit inside lands in the definition.
    expect(applySubgraphView(workflow, subgraphId, view).subgraphs![subgraphId]).toEqual(
      workflow.subgraphs![subgraphId],
    );
    view.nodes.sampler!.params = { ...view.nodes.sampler!.params, steps: 3 };
    expect(applySubgraphView(workflow, subgraphId, view).subgraphs![subgraphId]!.nodes.sampler!.params!.steps).toBe(3);
  });
});

describe('renaming and removing a subgraph output', () => {
  // `inner` is used at the top level (as `a`) and inside subgraph `outer` (as `i`); each level reads it,
  // and a node at each level reads a port of the same name from a node that is not an instance.
  const edge = (node: string, output: string) => ({ node, output });
  const doc: Workflow = {
    format: 'kinegraph/workflow@1',
    nodes: {
      a: { type: 'subgraph/inner', version: 1 },
      other: { type: 't/text', version: 1 },
      read: { type: 't/join', version: 1, inputs: { x: edge('a', 'out'), y: edge('other', 'out') } },
      o: { type: 'subgraph/outer', version: 1 },
    },
    subgraphs: {
      inner: {
        name: 'Inner',
        outputs: { out: edge('t', 'out') },
        nodes: { t: { type: 't/text', version: 1 } },
      },
      outer: {
        name: 'Outer',
        outputs: { res: edge('r', 'out') },
        nodes: {
          i: { type: 'subgraph/inner', version: 1 },
          u: { type: 't/text', version: 1 },
          r: { type: 't/join', version: 1, inputs: { x: edge('i', 'out'), y: edge('u', 'out') } },
        },
      },
    },
  };

  it('a rename follows every reader of an instance, at every level, and no one else', () => {
    const next = renamePort(doc, 'inner', 'output', 'out', 'result');
    expect(Object.keys(next.subgraphs!.inner!.outputs!)).toEqual(['result']);
    expect(next.nodes.read!.inputs).toEqual({ x: edge('a', 'result'), y: edge('other', 'out') });
    expect(next.subgraphs!.outer!.nodes.r!.inputs).toEqual({ x: edge('i', 'result'), y: edge('u', 'out') });
    expect(doc.nodes.read!.inputs!.x).toEqual(edge('a', 'out'));
  });

  it('a removal drops the edges that read it, at every level, and no others', () => {
    const next = removePort(doc, 'inner', 'output', 'out');
    expect(next.subgraphs!.inner!.outputs).toEqual({});
    expect(next.nodes.read!.inputs).toEqual({ y: edge('other', 'out') });
    expect(next.subgraphs!.outer!.nodes.r!.inputs).toEqual({ y: edge('u', 'out') });
  });
});
