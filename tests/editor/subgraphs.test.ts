// Subgraphs in a real browser against a real server: Convert to Subgraph makes one working node, which
// opens (breadcrumb) and closes, exposes params, runs with progress per inner node, and unpacks; a plugin's
// blueprint is listed in the palette and runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRun, Editor, type KinegraphHandle } from './harness.js';

declare const window: {
  kinegraph: KinegraphHandle & {
    app: { path: { instanceId: string; subgraphId: string }[] };
  };
};

interface SubgraphView {
  name: string;
  inputs?: Record<string, { type: string; optional?: boolean }>;
  outputs?: Record<string, { node: string; output: string }>;
  params?: Record<string, { node: string; param: string }>;
  nodes: Record<string, { type: string; params?: Record<string, unknown> }>;
  blueprint?: { type: string };
}

describe.skipIf(!canRun)('subgraphs in the browser', () => {
  const editor = new Editor();
  beforeAll(() => editor.start(), 120_000);
  afterAll(() => editor.close());

  const subgraphs = async () => ((await editor.workflow()).subgraphs ?? {}) as Record<string, SubgraphView>;
  const slots = (id: string) =>
    editor.eval((nodeId) => {
      const n = window.kinegraph.app.node(nodeId) as unknown as {
        inputs: { name: string }[];
        outputs: { name: string }[];
        widgets?: { name: string }[];
      };
      return {
        inputs: n.inputs.map((i) => i.name),
        outputs: n.outputs.map((o) => o.name),
        widgets: (n.widgets ?? []).map((w) => w.name),
      };
    }, id);

  it('Convert to Subgraph makes one node with the open inputs, outputs and chosen params; nothing is lost', async () => {
    await editor.example('text-to-video');
    await editor.selectNode('sampler');
    await editor.setParam('steps', '3');
    await editor.setParam('previewEvery', '1');
    await editor.selectNode('prompt');
    await editor.selectNode('sampler', ['Shift']);
    const menu = await editor.menuAt(await editor.titleOf('sampler'));
    expect(menu).toContain('Convert to subgraph\u2026');
    await editor.page.click('.kg-menu [data-command="subgraph-convert"]');
    await editor.page.waitForSelector('dialog.kg-dialog[open]');
    await editor.page.fill('dialog input[name="name"]', 'Generate');
    await editor.page.check('dialog input[data-node="sampler"][data-param="seed"]');
    await editor.page.check('dialog input[data-node="prompt"][data-param="text"]');
    await editor.page.click('dialog button.primary');
    await editor.page.waitForFunction(() => Boolean(window.kinegraph.workflow().nodes.generate));
    const wf = await editor.workflow();
    expect(Object.keys(wf.nodes).sort()).toEqual(['generate', 'pack', 'save']);
    expect(wf.nodes.save!.inputs).toEqual({ video: { node: 'generate', output: 'video' } });
    expect(wf.nodes.generate!.inputs).toEqual({ model: { node: 'pack', output: 'model' } });
    const def = (await subgraphs()).generate!;
    expect(Object.keys(def.nodes).sort()).toEqual(['prompt', 'sampler']);
    expect(def.params).toEqual({ seed: { node: 'sampler', param: 'seed' }, text: { node: 'prompt', param: 'text' } });
    expect(await slots('generate')).toEqual({
      inputs: ['model', 'negative', 'conditioning', 'init'],
      outputs: ['video'],
      widgets: ['text', 'seed', 'random seed'],
    });
    expect(editor.errors).toEqual([]);
    await editor.shot('subgraph-node', 'subgraph');
  });

  it('runs, with progress on the subgraph node and per inner node, and caches like any node', async () => {
    const id = await editor.runAndWait();
    const run = await editor.eval((runId) => window.kinegraph.app.runs.get(runId)!, id);
    expect(run.status).toBe('done');
    expect(run.nodes['generate:sampler']?.status).toBe('done');
    expect(run.nodes['generate:prompt']?.status).toBe('done');
    expect(run.files.length).toBe(1);
    // The instance shows the inner nodes' states summed up.
    expect(
      await editor.eval(
        () =>
          (window.kinegraph.app as unknown as { stateOf(id: string): { status: string } }).stateOf('generate')?.status,
      ),
    ).toBe('done');
    // An exposed param changed on the instance: only the sampler runs again.
    await editor.selectNode('generate');
    await editor.setParam('seed', '5');
    const again = await editor.runAndWait();
    const nodes = await editor.eval((runId) => window.kinegraph.app.runs.get(runId)!.nodes, again);
    expect(nodes['generate:prompt']?.status).toBe('cached');
    expect(nodes['generate:sampler']?.status).toBe('done');
  }, 120_000);

  it('opens with a double-click (breadcrumb), shows inner states, exposes params from the inspector, and Escape goes back', async () => {
    await editor.openSubgraph('generate');
    expect(await editor.page.textContent('#breadcrumb')).toContain(
      'Text to video\u203aGenerate'.replace('\u203a', ' \u203a '),
    );
    expect(await editor.eval(() => window.kinegraph.app.graph._nodes.map((n) => String(n.id)).sort())).toEqual([
      '$input',
      '$output',
      'prompt',
      'sampler',
    ]);
    // The inner sampler shows its state in the shown run.
    expect(
      await editor.eval(
        () =>
          (window.kinegraph.app as unknown as { stateOf(id: string): { status: string } }).stateOf('sampler')?.status,
      ),
    ).toBe('done');
    await editor.shot('subgraph-open', 'subgraph-open');
    await editor.selectNode('sampler');
    expect(await editor.page.textContent('[data-expose="seed"]')).toBe('Exposed');
    await editor.page.click('[data-expose="guidance"]');
    await editor.setParam('steps', '2');
    await editor.page.locator('#graph').focus();
    await editor.page.keyboard.press('Escape');
    await editor.page.waitForFunction(() => window.kinegraph.app.path.length === 0);
    expect(await editor.page.locator('#breadcrumb').isVisible()).toBe(false);
    const def = (await subgraphs()).generate!;
    expect(def.nodes.sampler!.params!.steps).toBe(2);
    expect(def.params!.guidance).toEqual({ node: 'sampler', param: 'guidance' });
    expect((await slots('generate')).widgets).toContain('guidance');
    // Undo at the top level takes back the last edit inside, and shows where it was made.
    await editor.page.keyboard.press('Control+z');
    expect((await subgraphs()).generate!.nodes.sampler!.params!.steps).toBe(3);
    expect(await editor.eval(() => window.kinegraph.app.path.map((p) => p.instanceId))).toEqual(['generate']);
    await editor.page.locator('#graph').focus();
    await editor.page.keyboard.press('Escape');
    await editor.page.waitForFunction(() => window.kinegraph.app.path.length === 0);
  });

  it('a link dropped on the + of the outputs node adds an output to the subgraph node', async () => {
    await editor.openSubgraph('generate');
    const from = await editor.eval(() => window.kinegraph.slotPosition('prompt', 'output', 'embedding'));
    const to = await editor.eval(() => window.kinegraph.slotPosition('$output', 'input', '+'));
    await editor.drag(from, to);
    await editor.page.waitForFunction(
      () =>
        Object.keys(
          (window.kinegraph.workflow().subgraphs as Record<string, { outputs?: object }>).generate!.outputs ?? {},
        ).length === 2,
    );
    expect((await subgraphs()).generate!.outputs!.embedding).toEqual({ node: 'prompt', output: 'embedding' });
    await editor.page.keyboard.press('Escape');
    await editor.page.waitForFunction(() => window.kinegraph.app.path.length === 0);
    expect((await slots('generate')).outputs).toEqual(['video', 'embedding']);
  });

  it('Unpack puts the nodes back, with the instance’s params; undo makes it one node again', async () => {
    await editor.menuAt(await editor.titleOf('generate'));
    await editor.page.click('.kg-menu [data-command="subgraph-unpack"]');
    await editor.page.waitForFunction(() => Boolean(window.kinegraph.workflow().nodes.sampler));
    const wf = await editor.workflow();
    expect(Object.keys(wf.nodes).sort()).toEqual(['pack', 'prompt', 'sampler', 'save']);
    expect(wf.subgraphs).toBeUndefined();
    expect(wf.nodes.sampler!.params!.seed).toBe(5);
    expect(wf.nodes.save!.inputs).toEqual({ video: { node: 'sampler', output: 'video' } });
    await editor.page.locator('#graph').focus();
    await editor.page.keyboard.press('Control+z');
    expect(Object.keys((await editor.workflow()).nodes).sort()).toEqual(['generate', 'pack', 'save']);
  });

  it('a blueprint a plugin ships is in the palette; adding it copies its subgraph into the workflow, and it runs', async () => {
    await editor.example('text-to-video');
    await editor.page.fill('#search', 'loop and save');
    const item = editor.page.locator('.palette-item[data-type="seamless-loop/loop-and-save"]');
    expect(await item.locator('.tag').textContent()).toBe('subgraph');
    await item.click();
    await editor.page.fill('#search', '');
    const wf = await editor.workflow();
    const id = Object.keys(wf.nodes).find((k) => wf.nodes[k]!.type.startsWith('subgraph/'))!;
    expect(wf.nodes[id]!.type).toBe('subgraph/loop-and-save');
    expect((await subgraphs())['loop-and-save']!.blueprint?.type).toBe('seamless-loop/loop-and-save');
    // Move it beside the sampler, wire it after it (its video input), at 3 steps, and run.
    await editor.eval((n) => {
      const { app } = window.kinegraph;
      const save = app.node('save')!;
      app.node(n)!.pos = [save.pos[0]! + save.size[0]! + 60, save.pos[1]!];
      (app as unknown as { changed(): void }).changed();
    }, id);
    await editor.frames();
    await editor.drag(
      await editor.eval(() => window.kinegraph.slotPosition('sampler', 'output', 'video')),
      await editor.eval((n) => window.kinegraph.slotPosition(n, 'input', 'video'), id),
    );
    await editor.selectNode('sampler');
    await editor.setParam('steps', '3');
    const run = await editor.runAndWait();
    const done = await editor.eval((runId) => window.kinegraph.app.runs.get(runId)!, run);
    expect(done.status).toBe('done');
    expect(done.nodes[`${id}:loop`]?.status).toBe('done');
    expect(done.files.some((f) => /loop_\d+\.gif$/.test(f))).toBe(true);
    await editor.page.click('#fit');
    await editor.page.waitForTimeout(300);
    await editor.shot('blueprint', 'blueprint');
    expect(editor.errors).toEqual([]);
  }, 120_000);
});
