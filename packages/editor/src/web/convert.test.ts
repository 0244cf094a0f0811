// The litegraph ⇄ kinegraph/workflow@1 conversion, both ways, through litegraph's real LGraph (it
// serialises without a DOM): every shipped example survives workflow → graph → workflow unchanged, and an
// edited graph survives graph → workflow → graph.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LGraph, LGraphGroup, LiteGraph } from '@comfyorg/litegraph';
import { describeNodes, Runtime, type Workflow } from '@kinegraph/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { graphToWorkflow, type LiteGraphData, type PortLayout, workflowToGraph } from '../shared/convert.js';
import { type Catalog, layoutsOf } from './catalog.js';
import { type KinegraphNode, registerNodeTypes } from './node-types.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const examples = readdirSync(join(root, 'workflows'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(root, 'workflows', f), 'utf8')) as Workflow] as const);

let catalog: Catalog;
let layouts: (type: string) => PortLayout | undefined;

beforeAll(async () => {
  const runtime = await Runtime.create({ discover: { cwd: root } });
  catalog = describeNodes(runtime.registry) as unknown as Catalog;
  layouts = layoutsOf(catalog);
  registerNodeTypes(catalog);
  await runtime.close();
});

/** Through litegraph itself: configure a graph from data and serialise it again. */
function throughLitegraph(data: LiteGraphData): LiteGraphData {
  const graph = new LGraph();
  graph.configure(structuredClone(data) as never);
  return JSON.parse(JSON.stringify(graph.serialize())) as LiteGraphData;
}

describe('workflow → graph → workflow', () => {
  it.each(examples)('%s comes back unchanged', (_name, workflow) => {
    const graph = throughLitegraph(workflowToGraph(workflow, layouts));
    expect(graphToWorkflow(graph)).toEqual(workflow);
  });

  it('keeps ids, params, edges by name, positions, sizes, titles, colours, extra ui keys and groups', () => {
    const workflow = {
      format: 'kinegraph/workflow@1',
      name: 'all the fields',
      description: 'd',
      nodes: {
        pack: {
          type: 'kinegraph/load-model-pack',
          version: 1,
          params: { pack: 'kinegraph-tiny', verify: false },
          ui: { pos: [1.5, 2], size: [300, 90], title: 'My pack', color: '#123456', pinnedNote: 'x' },
        },
        prompt: {
          type: 'kinegraph/text-encode',
          version: 1,
          params: { text: 'caf\u00e9 \u{1F600}' },
          inputs: { model: { node: 'pack', output: 'model' } },
          ui: { pos: [400, 10], collapsed: true },
        },
        sampler: {
          type: 'kinegraph/stunet-sample',
          version: 1,
          params: {
            seed: 5,
            steps: 3,
            sampler: 'ddim',
            eta: 0.5,
            guidance: 2,
            denoise: 1,
            previewEvery: 1,
            composite: false,
          },
          inputs: {
            positive: { node: 'prompt', output: 'embedding' },
            negative: { node: 'prompt', output: 'embedding' },
            model: { node: 'pack', output: 'model' },
          },
        },
        ghost: {
          type: 'acme/not-installed',
          version: 3,
          params: { any: [1, { b: 2 }] },
          inputs: { video: { node: 'sampler', output: 'video' } },
          ui: { pos: [900, 0] },
        },
      },
      groups: [
        { title: 'Generate', bounding: [0, -40, 800, 400], color: '#335533' },
        { title: 'plain', bounding: [1, 2, 3, 4] },
      ],
      metadata: {
        nodeTypes: { 'kinegraph/stunet-sample': { package: '@kinegraph/nodes', version: '0.1.0' } },
        author: 'me',
      },
    } as Workflow;
    const data = workflowToGraph(workflow, layouts);
    // The edge into sampler.model is drawn from pack's "model" output, into the sampler's "model" slot.
    const samplerNode = data.nodes.find((n) => n.id === 'sampler')!;
    const modelSlot = samplerNode.inputs!.findIndex((i) => i.name === 'model');
    const link = data.links.find((l) => l[3] === 'sampler' && l[4] === modelSlot)!;
    expect(link.slice(1, 3)).toEqual(['pack', 0]);
    expect(graphToWorkflow(data)).toEqual(workflow);
    expect(graphToWorkflow(throughLitegraph(data))).toEqual(workflow);
  });
});

describe('graph → workflow → graph', () => {
  it('an edited graph survives the round trip', () => {
    const graph = new LGraph();
    const add = (type: string, id: string, pos: [number, number]) => {
      const node = LiteGraph.createNode(type) as KinegraphNode;
      node.id = id;
      node.pos = pos;
      graph.add(node);
      return node;
    };
    const pack = add('kinegraph/load-model-pack', 'pack', [10, 20]);
    const prompt = add('kinegraph/text-encode', 'prompt', [300, 20]);
    const sampler = add('kinegraph/stunet-sample', 'sampler_2', [600, 40]);
    prompt.setParam('text', 'a red circle');
    sampler.setParam('steps', 7);
    sampler.title = 'Fast sampler';
    sampler.size = [333, 444];
    pack.connect(0, prompt, 0);
    pack.connect(0, sampler, 'model');
    prompt.connect(0, sampler, 'positive');
    const group = new LGraphGroup('Stage 1');
    group.pos = [0, 0];
    group.size = [500, 300];
    graph.add(group);

    const first = JSON.parse(JSON.stringify(graph.serialize())) as LiteGraphData;
    const workflow = graphToWorkflow(first);
    expect(Object.keys(workflow.nodes)).toEqual(['pack', 'prompt', 'sampler_2']);
    expect(workflow.nodes.sampler_2).toMatchObject({
      params: { steps: 7 },
      inputs: { model: { node: 'pack', output: 'model' }, positive: { node: 'prompt', output: 'embedding' } },
      ui: { title: 'Fast sampler', size: [333, 444], pos: [600, 40] },
    });
    expect(workflow.nodes.prompt?.params).toEqual({ text: 'a red circle' });
    expect(workflow.groups).toEqual([{ title: 'Stage 1', bounding: [0, 0, 500, 300] }]);

    const again = throughLitegraph(workflowToGraph(workflow, layouts));
    const essentials = (g: LiteGraphData) => ({
      nodes: g.nodes.map((n) => ({
        id: n.id,
        type: n.type,
        pos: n.pos,
        size: n.size,
        title: n.title,
        params: n.properties?.kinegraph?.params,
      })),
      links: g.links
        .map((l) => {
          const from = g.nodes.find((n) => n.id === l[1])!;
          const to = g.nodes.find((n) => n.id === l[3])!;
          return `${from.id}.${from.outputs![l[2]]!.name} -> ${to.id}.${to.inputs![l[4]]!.name}`;
        })
        .sort(),
      groups: g.groups.map((gr) => ({ title: gr.title, bounding: gr.bounding, color: gr.color })),
    });
    expect(essentials(again)).toEqual(essentials(first));
    expect(graphToWorkflow(again)).toEqual(workflow);
  });

  it('numeric ids (nodes made by plain litegraph) get node_<n> ids', () => {
    const graph = new LGraph();
    graph.add(LiteGraph.createNode('kinegraph/load-model-pack')!);
    const workflow = graphToWorkflow(JSON.parse(JSON.stringify(graph.serialize())) as LiteGraphData);
    expect(Object.keys(workflow.nodes)).toEqual(['node_1']);
  });

  it('refuses a connection between incompatible port types', () => {
    const graph = new LGraph();
    const pack = LiteGraph.createNode('kinegraph/load-model-pack')!;
    const sampler = LiteGraph.createNode('kinegraph/stunet-sample')!;
    graph.add(pack);
    graph.add(sampler);
    expect(pack.connect(0, sampler, 'positive')).toBeFalsy();
    expect(pack.connect(0, sampler, 'model')).toBeTruthy();
  });
});

describe('reroutes', () => {
  it('a reroute on a link survives graph → workflow → graph, with its parent chain', () => {
    const workflow = JSON.parse(readFileSync(join(root, 'workflows', 'text-to-video.json'), 'utf8')) as Workflow;
    const graph = new LGraph();
    graph.configure(workflowToGraph(workflow, layouts) as never);
    const link = [...graph.links.values()].find((l) => l.origin_id === 'prompt' && l.target_id === 'sampler')!;
    const first = graph.createReroute([500, 300], link);
    graph.createReroute([560, 320], first);
    const saved = graphToWorkflow(JSON.parse(JSON.stringify(graph.serialize())) as LiteGraphData);
    expect(saved.ui?.reroutes).toHaveLength(2);
    // The second reroute goes before the first (nearer the output): the link ends at the first.
    expect(saved.ui?.reroutes).toEqual([
      { id: 1, pos: [500, 300], parent: 2 },
      { id: 2, pos: [560, 320] },
    ]);
    expect(saved.ui?.links).toEqual([{ node: 'sampler', input: 'positive', reroute: 1 }]);
    const again = throughLitegraph(workflowToGraph(saved, layouts));
    expect(graphToWorkflow(again)).toEqual(saved);
  });
});
