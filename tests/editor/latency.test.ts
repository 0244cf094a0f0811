// How quickly the editor answers Queue, measured in the page (performance.now()): from the click to the
// first progress bar drawn on a node, and to the first sampler preview shown, over 10 runs of
// text-to-video (4 steps, a preview every step, a new seed each time so the sampler always runs).
// A measurement, not a check of speed: it prints the medians and asserts only that both things happened.
// Run it with: KINEGRAPH_MEASURE=1 npx vitest run tests/editor/latency.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRun, Editor, type KinegraphHandle } from './harness.js';

declare const window: {
  kinegraph: KinegraphHandle;
  __latency: { click?: number; bar?: number; preview?: number };
};

const measure = process.env.KINEGRAPH_MEASURE === '1';

describe.skipIf(!canRun || !measure)('Queue latency in the browser', () => {
  const editor = new Editor();
  beforeAll(() => editor.start(), 120_000);
  afterAll(() => editor.close());

  it('prints the median time from Queue to the first progress bar and to the first preview (10 runs)', async () => {
    await editor.example('text-to-video');
    await editor.selectNode('sampler');
    await editor.setParam('steps', '4');
    await editor.setParam('previewEvery', '1');
    // Hooks in the page: the click; then, frame by frame, the first frame drawn with a node of the new run
    // out of "pending" (it has its bar); and the first preview image decoded in its overlay.
    await editor.eval(() => {
      const { app } = window.kinegraph;
      document.querySelector('#queue')!.addEventListener(
        'click',
        () => {
          const t: { click?: number; bar?: number; preview?: number } = { click: performance.now() };
          window.__latency = t;
          const before = app.shownRunId;
          const frame = () => {
            const run = app.shownRun();
            if (run && run.id !== before && Object.values(run.nodes).some((n) => n.status !== 'pending'))
              t.bar = performance.now();
            else requestAnimationFrame(frame);
          };
          requestAnimationFrame(frame);
        },
        true,
      );
      new MutationObserver((records) => {
        for (const r of records)
          for (const node of r.addedNodes) {
            if (!(node instanceof HTMLImageElement) || !node.classList.contains('preview')) continue;
            const t = window.__latency;
            node.decode().then(() => {
              if (t && t.preview === undefined) t.preview = performance.now();
            });
          }
      }).observe(document.querySelector('#overlays')!, { childList: true });
    });
    const bars: number[] = [];
    const previews: number[] = [];
    for (let i = 0; i < 10; i++) {
      await editor.selectNode('sampler');
      await editor.setParam('seed', String(1000 + i));
      // A fresh overlay each run, so the first preview of this run is a new element.
      await editor.eval(() => window.kinegraph.load(window.kinegraph.workflow()));
      const id = await editor.queue();
      await editor.waitForRun(id, ['done', 'error', 'cancelled']);
      await editor.page.waitForFunction(() => window.__latency?.preview !== undefined, undefined, { timeout: 10_000 });
      const t = await editor.eval(() => window.__latency);
      bars.push(t.bar! - t.click!);
      previews.push(t.preview! - t.click!);
    }
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
    };
    const fmt = (xs: number[]) =>
      `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}; runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;
    console.log(`Queue -> first progress bar: ${fmt(bars)}`);
    console.log(`Queue -> first preview:      ${fmt(previews)}`);
    expect(bars).toHaveLength(10);
    expect(previews.every((p, i) => p >= bars[i]!)).toBe(true);
  }, 300_000);
});
