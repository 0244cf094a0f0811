// Bypass, mute and "run to this node" in a real browser against a real server: saved in the workflow,
// drawn distinctly, and honoured by the server's runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRun, Editor, type KinegraphHandle, type WorkflowView } from './harness.js';

declare const window: { kinegraph: KinegraphHandle };

describe.skipIf(!canRun)('bypass, mute and run to here in the browser', () => {
  const editor = new Editor();
  beforeAll(() => editor.start(), 120_000);
  afterAll(() => editor.close());

  /** text-to-video at 3 steps, with a Resize Video node (to 32×32) between the sampler and the encoder. */
  async function withResize(): Promise<void> {
    await editor.example('text-to-video');
    await editor.selectNode('sampler');
    await editor.setParam('steps', '3');
    const wf = await editor.workflow();
    wf.nodes.resize = {
      type: 'kinegraph/resize-video',
      version: 1,
      params: { width: 32, height: 32 },
      inputs: { video: { node: 'sampler', output: 'video' } },
      ui: { pos: [640, 420] },
    } as WorkflowView['nodes'][string];
    wf.nodes.save!.inputs = { video: { node: 'resize', output: 'video' } };
    await editor.eval((w) => window.kinegraph.load(w), wf);
  }

  it('Ctrl+B bypasses: saved, drawn apart, and the run passes the input straight through', async () => {
    await withResize();
    await editor.selectNode('resize');
    await editor.page.keyboard.press('Control+b');
    expect((await editor.workflow()).nodes.resize!.mode).toBe('bypass');
    expect(await editor.eval(() => window.kinegraph.app.node('resize')!.mode)).toBe(4);
    await editor.shot('bypass', 'bypass');
    const id = await editor.runAndWait();
    const run = await editor.eval((runId) => window.kinegraph.app.runs.get(runId)!, id);
    expect(run.status).toBe('done');
    expect(run.nodes.resize?.status).toBe('skipped');
    expect(run.nodes.save?.status).toBe('done');
    // The saved video has the sampler's size, not 32×32.
    const size = await editor.eval(async (url) => {
      const video = document.createElement('video');
      video.src = url;
      await new Promise((r) => video.addEventListener('loadedmetadata', r, { once: true }));
      return [video.videoWidth, video.videoHeight];
    }, run.files[0]!);
    expect(size).toEqual([256, 256]);
    // Ctrl+B again: back to normal.
    await editor.selectNode('resize');
    await editor.page.keyboard.press('Control+b');
    expect((await editor.workflow()).nodes.resize!.mode).toBeUndefined();
  }, 120_000);

  it('Ctrl+M mutes: the node and what needs it do not run, and no file is written', async () => {
    await withResize();
    await editor.selectNode('resize');
    await editor.page.keyboard.press('Control+m');
    expect((await editor.workflow()).nodes.resize!.mode).toBe('mute');
    await editor.shot('mute', 'mute');
    const id = await editor.runAndWait();
    const run = await editor.eval((runId) => window.kinegraph.app.runs.get(runId)!, id);
    expect(run.status).toBe('done');
    expect(run.nodes.resize?.status).toBe('skipped');
    expect(run.nodes.save?.status).toBe('skipped');
    expect(['done', 'cached']).toContain(run.nodes.sampler?.status);
    expect(run.files).toEqual([]);
    // The mode menu entries say so too.
    const menu = await editor.menuAt(await editor.titleOf('resize'));
    expect(menu).toEqual(expect.arrayContaining(['Bypass', 'Mute']));
    expect(await editor.page.$eval('.kg-menu [data-command="node-mute"] .check', (el) => el.textContent)).toBe(
      '\u2713',
    );
    await editor.page.keyboard.press('Escape');
  }, 120_000);

  it('Run to here runs only that node and what it needs, even when another branch is broken', async () => {
    await editor.example('text-to-video');
    // A broken branch: an encoder with nothing connected (INPUT_MISSING), which the prompt does not need.
    const wf = await editor.workflow();
    wf.nodes.broken = { type: 'kinegraph/video-encode', version: 1, ui: { pos: [40, 400] } };
    await editor.eval((w) => window.kinegraph.load(w), wf);
    await editor.menuAt(await editor.titleOf('prompt'));
    const before = await editor.shownRunId();
    await editor.page.click('.kg-menu [data-command="run-to"]');
    await editor.page.waitForFunction((prev) => (window.kinegraph.app.shownRunId ?? '') !== prev, before);
    const id = await editor.shownRunId();
    await editor.waitForRun(id, ['done', 'error', 'cancelled']);
    const run = await editor.eval((runId) => window.kinegraph.app.runs.get(runId)!, id);
    expect(run.status).toBe('done');
    expect(Object.keys(run.nodes).sort()).toEqual(['pack', 'prompt']);
    expect((run as unknown as { targets?: string[] }).targets).toEqual(['prompt']);
    expect(await editor.page.textContent(`#run-list li[data-run-id="${id}"] .extra`)).toContain('to prompt');
    await editor.page.waitForTimeout(300);
    await editor.shot('run-to', 'run-to');
  }, 120_000);
});
