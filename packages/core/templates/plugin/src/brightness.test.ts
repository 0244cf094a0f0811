// The node through a real Runtime: a source feeds a video made in JS, the node runs on the device, a
// capture reads the result back, and the numbers are compared with the same math in plain JS.
import type { TestRuntime } from '@kinegraph/core/testing';
import { capture, createTestRuntime, expectClose, expectNoLeaks, gradientVideo, source } from '@kinegraph/core/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import plugin from './index.js';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({ plugins: [plugin] });
});
afterAll(async () => {
  await t?.close();
});

const clip = gradientVideo({ frames: 2, height: 4, width: 4 });

const brighten = (amount: number) => ({
  clip: source('video', clip),
  fx: {
    type: 'plugin-template/brightness',
    version: 1,
    params: { amount },
    inputs: { video: { node: 'clip', output: 'video' } },
  },
  out: capture('fx', 'video'),
});

it.each([0.25, -0.5])('adds %f (in 0..1 units) to every pixel, clipped to the video range', async (amount) => {
  const run = await t.run(brighten(amount));
  expect(run.error).toBeUndefined();
  const out = run.tensor('out');
  expect(out.dims).toEqual(clip.tensor.dims);
  expectClose(
    out.data,
    clip.tensor.data.map((v) => Math.min(1, Math.max(-1, v + 2 * amount))),
    1e-6,
  );
});

it('rejects an amount out of range before running', () => {
  expect(t.validate(brighten(2))).toMatchObject({ ok: false, issues: [{ code: 'PARAM_INVALID', nodeId: 'fx' }] });
});

it('frees every tensor it made', () => expectNoLeaks(t));
