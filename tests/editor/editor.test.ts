// The editor in a real browser (Debian's chromium via playwright-core) against a real server: load
// text-to-video, set a prompt, run at few steps until the video plays, re-run for cached nodes, refuse an
// incompatible connection, get a workflow back from a dropped Kinegraph video, and show validation errors
// on their nodes. Screenshots go to $KINEGRAPH_SCREENSHOTS (default: a temp folder) for a human to look at.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRun, Editor, type KinegraphHandle, shots } from './harness.js';

declare const window: { kinegraph: KinegraphHandle };

describe.skipIf(!canRun)('editor in a browser', () => {
  const editor = new Editor();
  let page: Page;
  const prompt = 'a red circle moving left on a gray background';

  beforeAll(async () => {
    await editor.start();
    page = editor.page;
  }, 120_000);
  afterAll(() => editor.close());

  it('loads text-to-video, sets a prompt, runs, streams a preview and plays the result', async () => {
    await page.selectOption('#examples', 'text-to-video');
    await editor.selectNode('prompt');
    await page.fill('textarea[data-param="text"]', prompt);
    await page.locator('textarea[data-param="text"]').blur();
    await editor.selectNode('sampler');
    await page.fill('input[data-param="steps"]', '4');
    await page.locator('input[data-param="steps"]').blur();
    await page.fill('input[data-param="previewEvery"]', '1');
    await page.locator('input[data-param="previewEvery"]').blur();
    const wf = await page.evaluate(() => window.kinegraph.workflow());
    expect(wf.nodes.prompt?.params?.text).toBe(prompt);
    expect(wf.nodes.sampler?.params?.steps).toBe(4);

    const clicked = Date.now();
    await page.click('#queue');
    await page.waitForSelector('#overlays img.preview', { timeout: 120_000, polling: 100 });
    const firstPreviewMs = Date.now() - clicked;
    await page.screenshot({ path: join(shots, '1-running.png') });
    await page.waitForFunction(
      () => ((document.querySelector('#output-body video') as HTMLVideoElement | null)?.duration ?? 0) > 0,
      undefined,
      { timeout: 120_000, polling: 100 },
    );
    const duration = await page.evaluate(
      () => (document.querySelector('#output-body video') as HTMLVideoElement).duration,
    );
    expect(duration).toBeGreaterThan(0);
    expect(await page.evaluate(() => window.kinegraph.app.shownRun()?.status)).toBe('done');
    console.log(`browser: first preview ${firstPreviewMs} ms after clicking Queue; video ${duration.toFixed(2)} s`);
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(shots, '2-done.png') });
  }, 180_000);

  it('changing one param and running again shows the unchanged nodes as cached', async () => {
    await editor.selectNode('sampler');
    await page.fill('input[data-param="seed"]', '1234');
    await page.locator('input[data-param="seed"]').blur();
    await editor.runAndWait();
    const nodes = await page.evaluate(() => window.kinegraph.app.shownRun()!.nodes);
    expect(nodes.pack?.status).toBe('cached');
    expect(nodes.prompt?.status).toBe('cached');
    expect(nodes.sampler?.status).toBe('done');
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, '3-cached.png') });
  }, 180_000);

  it('refuses to connect incompatible port types, and connects compatible ones', async () => {
    const before = await page.evaluate(() => window.kinegraph.linkCount());
    const drag = async (from: [string, string], to: [string, string]) => {
      const a = await page.evaluate(([n, s]) => window.kinegraph.slotPosition(n!, 'output', s!), from);
      const b = await page.evaluate(([n, s]) => window.kinegraph.slotPosition(n!, 'input', s!), to);
      await page.mouse.move(a.x, a.y);
      await page.mouse.down();
      await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
      await page.mouse.move(b.x, b.y, { steps: 5 });
      await page.mouse.up();
    };
    // model → embedding input: refused.
    await drag(['pack', 'model'], ['sampler', 'negative']);
    expect(await page.evaluate(() => window.kinegraph.linkCount())).toBe(before);
    expect(await page.textContent('#toast')).toMatch(/Cannot connect model to "negative", which takes embedding/);
    await page.screenshot({ path: join(shots, '4-refused.png') });
    expect((await page.evaluate(() => window.kinegraph.workflow())).nodes.sampler?.inputs?.negative).toBeUndefined();
    // embedding → embedding: accepted.
    await drag(['prompt', 'embedding'], ['sampler', 'negative']);
    expect(await page.evaluate(() => window.kinegraph.linkCount())).toBe(before + 1);
    expect((await page.evaluate(() => window.kinegraph.workflow())).nodes.sampler?.inputs?.negative).toEqual({
      node: 'prompt',
      output: 'embedding',
    });
    // And undo takes it back.
    await page.locator('#graph').focus();
    await page.keyboard.press('Control+z');
    expect(await page.evaluate(() => window.kinegraph.linkCount())).toBe(before);
  });

  it('dropping a video Kinegraph made loads the workflow embedded in it', async () => {
    const file = await page.evaluate(() => window.kinegraph.app.shownRun()!.files[0]!);
    await page.selectOption('#examples', 'image-to-video');
    expect(Object.keys((await page.evaluate(() => window.kinegraph.workflow())).nodes)).toContain('image');
    const bytes = await page.evaluate(
      async (url) => Array.from(new Uint8Array(await (await fetch(url)).arrayBuffer())),
      file,
    );
    await page.evaluate(
      ({ data, name }) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(data)], name, { type: 'video/mp4' }));
        document
          .querySelector('#graph')!
          .dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      },
      { data: bytes, name: 'made-by-kinegraph.mp4' },
    );
    await page.waitForFunction(
      (text) =>
        window.kinegraph.workflow().nodes.prompt?.params?.text === text && !window.kinegraph.workflow().nodes.image,
      prompt,
      { timeout: 15_000, polling: 100 },
    );
    const wf = await page.evaluate(() => window.kinegraph.workflow());
    expect(wf.nodes.sampler?.params?.seed).toBe(1234);
    await page.screenshot({ path: join(shots, '5-dropped.png') });
  });

  it('saves the workflow as a download and opens it again through the file dialog', async () => {
    await page.selectOption('#examples', 'cinemagraph');
    const expected = await page.evaluate(() => window.kinegraph.workflow());
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    expect(download.suggestedFilename()).toMatch(/\.json$/);
    const saved = join(editor.cwd, 'saved.json');
    await download.saveAs(saved);
    await page.selectOption('#examples', 'text-to-video');
    await page.setInputFiles('#file', saved);
    await page.waitForFunction(
      (n) => Object.keys(window.kinegraph.workflow().nodes).length === n,
      Object.keys(expected.nodes).length,
      { timeout: 15_000, polling: 100 },
    );
    expect(await page.evaluate(() => window.kinegraph.workflow())).toEqual(expected);
  });

  it('cancels a running run', async () => {
    await page.selectOption('#examples', 'text-to-video');
    await editor.selectNode('sampler');
    await page.fill('input[data-param="steps"]', '200');
    await page.locator('input[data-param="steps"]').blur();
    await page.click('#queue');
    await page.waitForFunction(() => window.kinegraph.app.shownRun()?.nodes.sampler?.status === 'running', undefined, {
      timeout: 60_000,
      polling: 100,
    });
    await page.click('#cancel');
    await page.waitForFunction(() => window.kinegraph.app.shownRun()?.status === 'cancelled', undefined, {
      timeout: 30_000,
      polling: 100,
    });
    expect(await page.isDisabled('#cancel')).toBe(true);
  }, 120_000);

  it('a dropped picture Kinegraph did not make is uploaded to inputs/ with a loader node', async () => {
    const png = Array.from(
      Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
        'base64',
      ),
    );
    await page.evaluate((data) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], 'my photo.png', { type: 'image/png' }));
      document
        .querySelector('#graph')!
        .dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, png);
    await page.waitForFunction(() => Boolean(window.kinegraph.workflow().nodes['load-image']), undefined, {
      timeout: 15_000,
      polling: 100,
    });
    const path = (await page.evaluate(() => window.kinegraph.workflow())).nodes['load-image']?.params?.path as string;
    expect(path).toMatch(/^my-photo-[0-9a-f]{8}\.png$/);
    expect(existsSync(join(editor.cwd, 'inputs', path))).toBe(true);
  });

  it('adds nodes from the palette search, and deletes, copies, pastes and undoes as litegraph users expect', async () => {
    await page.selectOption('#examples', 'text-to-video');
    const ids = async () => Object.keys((await page.evaluate(() => window.kinegraph.workflow())).nodes).sort();
    const start = await ids();
    await page.fill('#search', 'preview video');
    await page.press('#search', 'Enter');
    expect(await ids()).toEqual([...start, 'preview-video'].sort());
    await page.fill('#search', '');
    await editor.selectNode('sampler');
    await page.keyboard.press('Delete');
    expect(await ids()).not.toContain('sampler');
    await page.keyboard.press('Control+z');
    expect(await ids()).toContain('sampler');
    await editor.selectNode('prompt');
    await page.keyboard.press('Control+c');
    await page.mouse.move(700, 700);
    await page.keyboard.press('Control+v');
    const after = await ids();
    expect(after).toContain('text-encode');
    const pasted = (await page.evaluate(() => window.kinegraph.workflow())).nodes['text-encode'];
    expect(pasted?.params?.text).toBe(
      (await page.evaluate(() => window.kinegraph.workflow())).nodes.prompt?.params?.text,
    );
    await page.screenshot({ path: join(shots, '6-edited.png') });
  });

  it('shows a runtime error on the node that failed', async () => {
    await page.selectOption('#examples', 'image-to-video');
    await editor.selectNode('image');
    await page.fill('input[data-param="path"]', 'inputs/not-there.png');
    await page.locator('input[data-param="path"]').blur();
    await editor.runAndWait();
    expect(await page.evaluate(() => window.kinegraph.app.shownRun()?.status)).toBe('error');
    expect(await page.evaluate(() => window.kinegraph.app.shownRun()?.nodes.image?.status)).toBe('error');
    expect(await page.textContent('#output-body')).toMatch(/Node "image" failed .*FILE_NOT_FOUND/);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, '8-runtime-error.png') });
  }, 120_000);

  it('shows the end of a run that finished before the server answered the queue request', async () => {
    // The live socket can deliver a fast run's end before the POST reply (which holds the run as queued)
    // arrives; the page must keep the newer state. Hold the reply back until the end has been shown.
    await page.selectOption('#examples', 'text-to-video');
    await page.selectOption('#examples', 'image-to-video');
    await editor.selectNode('image');
    await page.fill('input[data-param="path"]', 'inputs/not-there-either.png');
    await page.locator('input[data-param="path"]').blur();
    let held = 0;
    await page.route('**/api/runs', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const response = await route.fetch();
      const { id } = (await response.json()) as { id: string };
      try {
        await page.waitForFunction(
          (runId) =>
            (window.kinegraph.app as unknown as { runs: Map<string, { status: string }> }).runs.get(runId)?.status ===
            'error',
          id,
          { timeout: 30_000, polling: 50 },
        );
        held++;
      } finally {
        await route.fulfill({ response });
      }
    });
    try {
      await editor.runAndWait();
    } finally {
      await page.unroute('**/api/runs');
    }
    expect(held).toBe(1);
    expect(await page.evaluate(() => window.kinegraph.app.shownRun()?.status)).toBe('error');
  }, 120_000);

  it('keeps a node whose plugin is not installed, drawn as missing, and saves it unchanged', async () => {
    const ghost = {
      format: 'kinegraph/workflow@1',
      nodes: {
        pack: {
          type: 'kinegraph/load-model-pack',
          version: 1,
          params: { pack: 'kinegraph-tiny' },
          ui: { pos: [40, 60] },
        },
        grade: {
          type: 'acme/film-grain',
          version: 2,
          params: { amount: 0.3, curve: [0, 1] },
          inputs: { model: { node: 'pack', output: 'model' } },
          ui: { pos: [360, 60], size: [260, 120] },
        },
      },
      metadata: { nodeTypes: { 'acme/film-grain': { package: '@acme/kinegraph-grain', version: '2.1.0' } } },
    };
    await page.evaluate((w) => window.kinegraph.load(w), ghost);
    const back = await page.evaluate(() => window.kinegraph.workflow());
    expect(back.nodes.grade).toEqual(ghost.nodes.grade);
    await page.click('#queue');
    await page.waitForSelector('#problems:not([hidden]) li');
    expect(await page.textContent('#problem-list')).toMatch(/grade: NODE_TYPE_UNKNOWN/);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, '9-missing-plugin.png') });
  });

  it('shows validation errors on the offending nodes', async () => {
    await page.selectOption('#examples', 'text-to-video');
    await page.evaluate(() => {
      const wf = window.kinegraph.workflow() as { nodes: Record<string, { inputs?: Record<string, unknown> }> };
      delete wf.nodes.sampler!.inputs!.positive;
      window.kinegraph.load(wf);
    });
    await page.click('#queue');
    await page.waitForSelector('#problems:not([hidden]) li');
    const text = await page.textContent('#problem-list');
    expect(text).toMatch(/sampler: INPUT_MISSING/);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(shots, '7-invalid.png') });
  });
});
