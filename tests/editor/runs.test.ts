// The queue and history in a real browser against a real server: stable rows, per-run cancel, "run next",
// what each entry shows, opening a past run, what a reload shows, and a history that survives a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRun, Editor, type KinegraphHandle } from './harness.js';

declare const window: { kinegraph: KinegraphHandle };

describe.skipIf(!canRun)('queue and history in the browser', () => {
  const editor = new Editor();
  beforeAll(() => editor.start(), 120_000);
  afterAll(() => editor.close());

  const row = (id: string) => editor.page.locator(`#run-list li[data-run-id="${id}"]`);

  /** text-to-video with `steps` sampler steps and a preview every step. */
  async function prepare(steps: number, seed = 7): Promise<void> {
    await editor.example('text-to-video');
    await editor.selectNode('sampler');
    await editor.setParam('steps', String(steps));
    await editor.setParam('previewEvery', '1');
    await editor.setParam('seed', String(seed));
  }

  it('rows stay put while progress streams in, so every click on a row lands', async () => {
    await prepare(40);
    const id = await editor.queue();
    await editor.page.waitForFunction(
      (runId) => (window.kinegraph.app.runs.get(runId)?.nodes.sampler?.progress ?? 0) > 0,
      id,
      { timeout: 60_000, polling: 50 },
    );
    // Mark the row element and count the clicks it receives while previews keep arriving.
    await row(id).evaluate((el) => {
      el.setAttribute('data-mark', 'same');
      (el as HTMLElement & { clicks?: number }).clicks = 0;
      el.addEventListener('click', () => ((el as HTMLElement & { clicks?: number }).clicks! += 1));
    });
    const progressBefore = await editor.eval(
      (runId) => window.kinegraph.app.runs.get(runId)!.nodes.sampler!.progress,
      id,
    );
    for (let i = 0; i < 5; i++) {
      await row(id).click();
      await editor.page.waitForTimeout(120);
    }
    const progressAfter = await editor.eval(
      (runId) => window.kinegraph.app.runs.get(runId)!.nodes.sampler!.progress,
      id,
    );
    expect(progressAfter).toBeGreaterThan(progressBefore);
    expect(await row(id).getAttribute('data-mark')).toBe('same');
    expect(await row(id).evaluate((el) => (el as HTMLElement & { clicks?: number }).clicks)).toBe(5);
    await editor.page.click('#cancel');
    await editor.waitForRun(id, ['cancelled']);
  }, 120_000);

  it('Cancel stops the running run, not the queued one; each row cancels its own run; "run next" reorders', async () => {
    await prepare(200);
    const a = await editor.queue();
    await editor.waitForRun(a, ['running'], 60_000);
    await editor.selectNode('sampler');
    await editor.setParam('seed', '8');
    const b = await editor.queue();
    await editor.setParam('seed', '9');
    const c = await editor.queue();
    await editor.page.evaluate(() => (window as unknown as { kinegraph: { flushRuns(): void } }).kinegraph.flushRuns());
    // Queue order, as shown: a (running), b, c.
    const order = () =>
      editor.page.$$eval('#run-list li.run:not(.finished)', (els) => els.map((e) => e.getAttribute('data-run-id')));
    expect(await order()).toEqual([a, b, c]);
    await editor.shot('queue', 'queue');
    // Run next: c moves ahead of b.
    await row(c).locator('button.run-next').click();
    await editor.page.waitForFunction(
      ([x, y]) => {
        const q = (window.kinegraph.app as unknown as { queueOrder: string[] }).queueOrder;
        return q[0] === x && q[1] === y;
      },
      [c, b],
    );
    await editor.page.waitForFunction(
      ([x, y, z]) =>
        [...document.querySelectorAll('#run-list li.run:not(.finished)')]
          .map((e) => e.getAttribute('data-run-id'))
          .join() === [x, y, z].join(),
      [a, c, b],
    );
    // The toolbar's Cancel: the running run.
    await editor.page.click('#cancel');
    await editor.waitForRun(a, ['cancelled']);
    // c starts (it was moved ahead); b waits. Cancel b from its row.
    await editor.waitForRun(c, ['running'], 60_000);
    expect(await editor.eval((id) => window.kinegraph.app.runs.get(id)!.status, b)).toBe('queued');
    await row(b).locator('button.cancel').click();
    await editor.waitForRun(b, ['cancelled']);
    expect(await editor.eval((id) => window.kinegraph.app.runs.get(id)!.status, c)).toBe('running');
    await row(c).locator('button.cancel').click();
    await editor.waitForRun(c, ['cancelled']);
    // The Output panel says what happened to the run it shows (the last one queued, c).
    await editor.page.waitForFunction(() =>
      /Cancelled/.test(document.querySelector('#output-body')?.textContent ?? ''),
    );
  }, 180_000);

  let finished = '';
  it('each entry shows the workflow name, start time, duration, status and a thumbnail', async () => {
    await prepare(3, 11);
    finished = await editor.runAndWait();
    await editor.page.evaluate(() => (window as unknown as { kinegraph: { flushRuns(): void } }).kinegraph.flushRuns());
    const r = row(finished);
    expect(await r.locator('.name').textContent()).toBe('Text to video');
    expect(await r.locator('.status').textContent()).toBe('done');
    expect(await r.locator('.start').textContent()).toMatch(/\d{1,2}:\d{2}:\d{2}/);
    expect(await r.locator('.duration').textContent()).toMatch(/^\d+(\.\d)? s$|^\d+ ms$/);
    await r.locator('.thumb img').waitFor({ timeout: 10_000 });
    await editor.page.waitForFunction(
      (id) =>
        ((document.querySelector(`li[data-run-id="${id}"] .thumb img`) as HTMLImageElement | null)?.naturalWidth ?? 0) >
        0,
      finished,
    );
    await editor.shot('history', 'history');
  }, 120_000);

  it('clicking a past run asks, then loads its exact workflow and shows its outputs; undo brings the old graph back', async () => {
    await editor.example('image-to-video');
    await row(finished).click();
    await editor.page.waitForSelector('dialog.kg-dialog[open]', { timeout: 5000 });
    expect(await editor.page.textContent('dialog.kg-dialog')).toMatch(/Open this run\?/);
    await editor.shot('open-run-dialog', 'open-run');
    await editor.page.click('dialog.kg-dialog button.primary');
    await editor.page.waitForFunction((id) => window.kinegraph.app.shownRunId === id, finished);
    const wf = await editor.workflow();
    expect(wf.nodes.sampler?.params?.seed).toBe(11);
    expect(wf.nodes.sampler?.params?.steps).toBe(3);
    expect(wf.nodes.image).toBeUndefined();
    await editor.page.waitForFunction(
      () => ((document.querySelector('#output-body video') as HTMLVideoElement | null)?.duration ?? 0) > 0,
    );
    // Its results are on the nodes again: the encoder plays its video.
    await editor.page.waitForSelector('#overlays video.result');
    await editor.page.locator('#graph').focus();
    await editor.page.keyboard.press('Control+z');
    expect((await editor.workflow()).nodes.image).toBeDefined();
  }, 60_000);

  it('a reload shows the same canvas and run; a canvas with no run of its own shows no other run', async () => {
    await row(finished).click();
    await editor.page.click('dialog.kg-dialog button.primary');
    await editor.page.waitForFunction((id) => window.kinegraph.app.shownRunId === id, finished);
    await editor.page.waitForTimeout(400);
    await editor.open();
    expect(await editor.shownRunId()).toBe(finished);
    expect((await editor.workflow()).nodes.sampler?.params?.seed).toBe(11);
    await editor.page.waitForSelector('#overlays video.result');

    // A fresh tab on the default example: it has never run, so it shows no run's badges or previews.
    await editor.eval(() => {
      sessionStorage.clear();
      localStorage.clear();
    });
    await editor.open();
    expect(await editor.shownRunId()).toBe('');
    expect(await editor.page.$$('#overlays .overlay')).toHaveLength(0);
    expect(await editor.page.textContent('#output-body')).toMatch(/Run the workflow/);
    // ...while the history still lists every run.
    await row(finished).waitFor({ timeout: 10_000 });
  }, 60_000);

  it('the history survives a server restart', async () => {
    await editor.stopServer();
    await editor.startServer();
    await editor.open();
    await row(finished).waitFor({ timeout: 10_000 });
    expect(await row(finished).locator('.status').textContent()).toBe('done');
    expect(await editor.page.$$eval('#run-list li.cancelled', (els) => els.length)).toBeGreaterThanOrEqual(3);
    await row(finished).click();
    await editor.page.waitForSelector('dialog.kg-dialog[open]', { timeout: 5000 });
    await editor.page.click('dialog.kg-dialog button.primary');
    await editor.page.waitForFunction((id) => window.kinegraph.app.shownRunId === id, finished);
    expect((await editor.workflow()).nodes.sampler?.params?.seed).toBe(11);
    await editor.page.waitForSelector(`li[data-run-id="${finished}"] .thumb img`);
  }, 60_000);
});
