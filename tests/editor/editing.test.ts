// Editing in a real browser: undo of mouse edits, reroutes, the search a released link opens, menus and
// dialogs, groups, minimap, fit view, the shortcuts help and dropped pictures. Each test names the item of
// issue #22 it covers.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRun, Editor, type KinegraphHandle } from './harness.js';

declare const window: { kinegraph: KinegraphHandle };

describe.skipIf(!canRun)('editing in the browser', () => {
  const editor = new Editor();
  beforeAll(() => editor.start(), 120_000);
  afterAll(() => editor.close());

  const posOf = async (id: string) => (await editor.workflow()).nodes[id]!.ui!.pos as number[];

  it('undo takes back a node moved with the mouse, one move per Ctrl+Z', async () => {
    await editor.example('text-to-video');
    const start = await posOf('prompt');
    const title = await editor.titleOf('prompt');
    await editor.drag(title, { x: title.x + 120, y: title.y + 80 });
    const afterFirst = await posOf('prompt');
    expect(afterFirst[0]).toBeGreaterThan(start[0]! + 50);
    const title2 = await editor.titleOf('prompt');
    await editor.drag(title2, { x: title2.x + 60, y: title2.y });
    const afterSecond = await posOf('prompt');
    expect(afterSecond[0]).toBeGreaterThan(afterFirst[0]! + 20);

    await editor.page.keyboard.press('Control+z');
    expect(await posOf('prompt')).toEqual(afterFirst);
    await editor.page.keyboard.press('Control+z');
    expect(await posOf('prompt')).toEqual(start);
    await editor.page.keyboard.press('Control+Shift+z');
    expect(await posOf('prompt')).toEqual(afterFirst);
  });

  it('a reroute added on a link is saved, and survives moving, undo, save and load, and a reload', async () => {
    await editor.example('text-to-video');
    await editor.frames();
    // Alt+click on the link prompt.embedding → sampler.positive, at its middle.
    const mid = await editor.eval(() => {
      const { app } = window.kinegraph;
      const link = [...app.graph.links.values()].find((l) => l.origin_id === 'prompt' && l.target_id === 'sampler')!;
      return [link._pos![0]!, link._pos![1]!];
    });
    const at = await editor.pagePoint(mid[0]!, mid[1]!);
    await editor.page.keyboard.down('Alt');
    await editor.page.mouse.click(at.x, at.y);
    await editor.page.keyboard.up('Alt');
    await editor.page.waitForFunction(() => window.kinegraph.app.graph.reroutes.size === 1, undefined, {
      timeout: 5000,
    });
    const saved = await editor.workflow();
    expect(saved.ui?.reroutes).toHaveLength(1);
    expect(saved.ui?.links).toEqual([{ node: 'sampler', input: 'positive', reroute: saved.ui!.reroutes![0]!.id }]);
    const first = saved.ui!.reroutes![0]!.pos;

    // Drag it elsewhere: the new place is saved; undo puts it back (and keeps it).
    await editor.drag(at, { x: at.x + 40, y: at.y + 90 });
    const moved = (await editor.workflow()).ui!.reroutes![0]!.pos;
    expect(moved[1]).toBeGreaterThan(first[1]! + 40);
    await editor.page.keyboard.press('Control+z');
    expect((await editor.workflow()).ui?.reroutes?.[0]?.pos).toEqual(first);
    await editor.page.keyboard.press('Control+Shift+z');

    // Save and load: the same reroute on the same link.
    const again = await editor.workflow();
    await editor.example('image-to-video');
    await editor.eval((w) => window.kinegraph.load(w), again);
    expect((await editor.workflow()).ui).toEqual(again.ui);
    expect(await editor.eval(() => window.kinegraph.app.graph.reroutes.size)).toBe(1);

    // A reload restores the canvas with it.
    await editor.page.waitForTimeout(400);
    await editor.open();
    expect((await editor.workflow()).ui).toEqual(again.ui);
    await editor.shot('reroute', 'reroute');
  });

  it('releasing a link on empty canvas opens a search of the nodes that fit, and connects the one picked', async () => {
    await editor.example('text-to-video');
    const from = await editor.eval(() => window.kinegraph.slotPosition('sampler', 'output', 'video'));
    const empty = await editor.eval(() => {
      const { app } = window.kinegraph;
      const sampler = app.node('sampler')!;
      return [sampler.pos[0]! + sampler.size[0]! + 60, sampler.pos[1]! + sampler.size[1]! + 260];
    });
    const drop = await editor.pagePoint(empty[0]!, empty[1]!);
    await editor.drag(from, drop);
    await editor.page.waitForSelector('.kg-search', { timeout: 5000 });
    expect(await editor.page.textContent('.kg-search .chip')).toBe('takes video');
    const offered = await editor.page.$$eval('.kg-search-list li', (els) =>
      els.map((e) => e.getAttribute('data-type')),
    );
    expect(offered).toContain('kinegraph/preview-video');
    expect(offered).toContain('kinegraph/video-encode');
    expect(offered).not.toContain('kinegraph/load-model-pack');
    expect(offered).not.toContain('kinegraph/text-encode');
    await editor.shot('link-release-search', 'link-release-search');
    await editor.page.keyboard.type('preview vid');
    await editor.page.keyboard.press('Enter');
    await editor.page.waitForFunction(() => Boolean(window.kinegraph.workflow().nodes['preview-video']));
    const wf = await editor.workflow();
    expect(wf.nodes['preview-video']!.inputs).toEqual({ video: { node: 'sampler', output: 'video' } });
    // Placed where the link was dropped.
    const pos = wf.nodes['preview-video']!.ui!.pos!;
    expect(Math.abs(pos[0]! - empty[0]!)).toBeLessThan(2);
    expect(Math.abs(pos[1]! - empty[1]!)).toBeLessThan(2);

    // From an input: only nodes with an output of its type; Escape closes without adding anything.
    const before = Object.keys((await editor.workflow()).nodes).length;
    const input = await editor.eval(() => window.kinegraph.slotPosition('sampler', 'input', 'negative'));
    await editor.drag(input, { x: input.x - 40, y: input.y + 320 });
    await editor.page.waitForSelector('.kg-search', { timeout: 5000 });
    expect(await editor.page.textContent('.kg-search .chip')).toBe('gives embedding');
    const givers = await editor.page.$$eval('.kg-search-list li', (els) => els.map((e) => e.getAttribute('data-type')));
    expect(givers).toEqual(['kinegraph/text-encode']);
    await editor.page.keyboard.press('Escape');
    await editor.page.waitForSelector('.kg-search', { state: 'detached', timeout: 2000 });
    expect(Object.keys((await editor.workflow()).nodes)).toHaveLength(before);
    expect(editor.errors).toEqual([]);
  });

  it('menus offer only entries that work, drawn in the app theme, and Escape closes them', async () => {
    await editor.example('text-to-video');
    const nodeMenu = await editor.menuAt(await editor.titleOf('sampler'));
    for (const unsupported of ['Properties', 'Properties Panel', 'Shapes', 'Inputs', 'Outputs', 'Resize'])
      expect(nodeMenu).not.toContain(unsupported);
    expect(nodeMenu.join('\n')).not.toMatch(/\u{1F195}/u);
    expect(nodeMenu).toEqual(expect.arrayContaining(['Rename\u2026', 'Colour', 'Clone', 'Remove']));
    const style = await editor.page.$eval('.kg-menu', (el) => getComputedStyle(el).backgroundColor);
    expect(style).toBe('rgb(28, 32, 40)');
    await editor.shot('node-menu', 'node-menu');
    await editor.page.keyboard.press('Escape');
    await editor.page.waitForSelector('.kg-menu', { state: 'detached', timeout: 2000 });

    // Colour → red: saved with the node; Clone adds a copy with the same params.
    await editor.menuAt(await editor.titleOf('sampler'));
    await editor.page.click('.kg-menu [data-command="node-color"]');
    await editor.page.click('.kg-menu .kg-menu-item:has-text("red")');
    expect((await editor.workflow()).nodes.sampler!.ui!.color).toBe('#322');
    await editor.menuAt(await editor.titleOf('sampler'));
    await editor.page.click('.kg-menu [data-command="node-clone"]');
    const wf = await editor.workflow();
    expect(wf.nodes['stunet-sample']!.params).toEqual(wf.nodes.sampler!.params);

    // The canvas menu.
    const box = (await editor.page.locator('#graph').boundingBox())!;
    const canvasMenu = await editor.menuAt({ x: box.x + 30, y: box.y + box.height - 30 });
    expect(canvasMenu).toEqual(
      expect.arrayContaining(['Add node\u2026', 'Add group', 'Fit view', 'Keyboard shortcuts']),
    );
    expect(canvasMenu.join('\n')).not.toMatch(/\u{1F195}|Convert to Subgraph \u{1F195}/u);
    await editor.page.keyboard.press('Escape');
    await editor.page.waitForSelector('.kg-menu', { state: 'detached', timeout: 2000 });
    expect(editor.errors).toEqual([]);
  });

  it('Ctrl+G groups the selected nodes under a title you type; the group and its colour are saved', async () => {
    await editor.example('text-to-video');
    await editor.selectNode('prompt');
    await editor.selectNode('sampler', ['Shift']);
    await editor.page.keyboard.press('Control+g');
    await editor.page.waitForSelector('.kg-inline-edit input', { timeout: 5000 });
    await editor.page.keyboard.type('Generate');
    await editor.page.keyboard.press('Enter');
    const wf = await editor.workflow();
    expect(wf.groups).toHaveLength(1);
    const group = wf.groups![0]!;
    expect(group.title).toBe('Generate');
    const [gx, gy, gw, gh] = group.bounding as [number, number, number, number];
    for (const id of ['prompt', 'sampler']) {
      const p = wf.nodes[id]!.ui!.pos!;
      expect(p[0]).toBeGreaterThan(gx);
      expect(p[1]).toBeGreaterThan(gy);
      expect(p[0]!).toBeLessThan(gx + gw);
      expect(p[1]!).toBeLessThan(gy + gh);
    }
    // Its menu, from the title bar: a colour.
    const title = await editor.pagePoint(gx + 30, gy + 10);
    const menu = await editor.menuAt(title);
    expect(menu).toEqual(expect.arrayContaining(['Rename\u2026', 'Colour', 'Remove group (keep its nodes)']));
    await editor.page.click('.kg-menu [data-command="group-color"]');
    await editor.page.click('.kg-menu .kg-menu-item:has-text("green")');
    expect((await editor.workflow()).groups![0]!.color).toBe('#8A8');
    await editor.shot('group', 'groups');
    await editor.page.keyboard.press('Control+z');
    expect((await editor.workflow()).groups![0]!.color).toBeUndefined();
  });

  it('the minimap shows the graph and moves the view when clicked; Fit view brings every node into view', async () => {
    await editor.example('text-to-video');
    const minimap = editor.page.locator('#minimap');
    expect(await minimap.isVisible()).toBe(true);
    const before = await editor.eval(() => [...window.kinegraph.app.canvas.ds.offset]);
    const box = (await minimap.boundingBox())!;
    await editor.page.mouse.click(box.x + box.width - 6, box.y + box.height - 6);
    const after = await editor.eval(() => [...window.kinegraph.app.canvas.ds.offset]);
    expect(after).not.toEqual(before);
    await editor.shot('minimap', 'minimap');

    // Far away, then Fit view: every node inside the canvas.
    await editor.page.click('#fit');
    const inView = await editor.eval(() => {
      const { app } = window.kinegraph;
      const el = document.querySelector('#graph') as HTMLCanvasElement;
      return app.graph._nodes.every((n) => {
        const [x, y] = app.canvas.ds.convertOffsetToCanvas([n.pos[0]!, n.pos[1]!]);
        const [x2, y2] = app.canvas.ds.convertOffsetToCanvas([n.pos[0]! + n.size[0]!, n.pos[1]! + n.size[1]!]);
        return x! >= 0 && y! >= 0 && x2! <= el.clientWidth && y2! <= el.clientHeight;
      });
    });
    expect(inView).toBe(true);
    // Alt+M hides it; the choice is remembered.
    await editor.page.locator('#graph').focus();
    await editor.page.keyboard.press('Alt+m');
    expect(await minimap.isVisible()).toBe(false);
    await editor.page.keyboard.press('Alt+m');
    expect(await minimap.isVisible()).toBe(true);
  });

  it('? shows the keyboard shortcuts, and Escape closes them', async () => {
    await editor.page.locator('#graph').focus();
    await editor.page.keyboard.press('Shift+?');
    await editor.page.waitForSelector('dialog.kg-dialog[open]', { timeout: 5000 });
    const text = await editor.page.textContent('dialog.kg-dialog');
    expect(text).toContain('Group the selected nodes');
    expect(text).toContain('Ctrl+G');
    expect(text).toContain('Alt + click a link');
    await editor.shot('shortcuts', 'shortcuts');
    await editor.page.keyboard.press('Escape');
    await editor.page.waitForSelector('dialog.kg-dialog', { state: 'detached', timeout: 2000 });
  });

  it('a canvas widget is edited in a box in the app style, and the edit can be undone', async () => {
    await editor.example('text-to-video');
    await editor.frames();
    const at = await editor.eval(() => {
      const { app } = window.kinegraph;
      const node = app.node('sampler')! as unknown as {
        pos: number[];
        size: number[];
        widgets: { name: string; y: number }[];
      };
      const w = node.widgets.find((x) => x.name === 'seed')!;
      return [node.pos[0]! + node.size[0]! / 2, node.pos[1]! + w.y + 10];
    });
    const point = await editor.pagePoint(at[0]!, at[1]!);
    await editor.page.mouse.click(point.x, point.y);
    await editor.page.waitForSelector('.kg-inline-edit input', { timeout: 5000 });
    expect(await editor.page.$('.graphdialog')).toBeNull();
    await editor.page.fill('.kg-inline-edit input', '4242');
    await editor.page.keyboard.press('Enter');
    expect((await editor.workflow()).nodes.sampler!.params!.seed).toBe(4242);
    await editor.page.locator('#graph').focus();
    await editor.page.keyboard.press('Control+z');
    expect((await editor.workflow()).nodes.sampler!.params!.seed).toBe(42);
  });

  it('a dropped picture Kinegraph did not make becomes a loader node at the drop point, shown in the inspector', async () => {
    await editor.example('text-to-video');
    await editor.selectNode('prompt');
    const graphPoint = [900, 500];
    const at = await editor.pagePoint(graphPoint[0]!, graphPoint[1]!);
    const png = Array.from(
      Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
        'base64',
      ),
    );
    await editor.eval(
      ({ data, x, y }) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(data)], 'holiday.png', { type: 'image/png' }));
        document
          .querySelector('#graph')!
          .dispatchEvent(
            new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true, clientX: x, clientY: y }),
          );
      },
      { data: png, x: at.x, y: at.y },
    );
    await editor.page.waitForFunction(() => Boolean(window.kinegraph.workflow().nodes['load-image']), undefined, {
      timeout: 15_000,
      polling: 100,
    });
    const node = (await editor.workflow()).nodes['load-image']!;
    expect(Math.abs(node.ui!.pos![0]! - graphPoint[0]!)).toBeLessThan(2);
    expect(Math.abs(node.ui!.pos![1]! - graphPoint[1]!)).toBeLessThan(2);
    const path = node.params!.path as string;
    expect(path).toMatch(/^holiday-[0-9a-f]{8}\.png$/);
    expect(existsSync(join(editor.cwd, 'inputs', path))).toBe(true);
    // The inspector shows the new node and its file.
    await editor.page.waitForFunction(
      (p) => (document.querySelector('[data-param="path"]') as HTMLInputElement | null)?.value === p,
      path,
      { timeout: 5000 },
    );
    await editor.shot('dropped-picture', 'dropped-picture');
  });
});
