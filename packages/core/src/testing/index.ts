/**
 * Testing helpers for plugin and node authors: run a few nodes through a real Runtime (validation,
 * migration, scheduling, tensor ownership, the inference worker) and look at the numbers.
 *
 * ```ts
 * import { capture, createTestRuntime, expectNoLeaks, gradientVideo, source } from '@kinegraph/core/testing';
 * import plugin from './index.js';
 *
 * const t = await createTestRuntime({ plugins: [plugin] });
 * afterAll(() => t.close());
 *
 * it('brightens', async () => {
 *   const clip = gradientVideo({ frames: 2, height: 4, width: 4 });
 *   const run = await t.run({
 *     clip: source('video', clip),
 *     fx: { type: 'acme/brightness', version: 1, params: { amount: 0.1 }, inputs: { video: { node: 'clip', output: 'video' } } },
 *     out: capture('fx', 'video'),
 *   });
 *   expect(run.error).toBeUndefined();
 *   expect(run.tensor('out').dims).toEqual(clip.tensor.dims);
 * });
 *
 * it('leaks no tensors', () => expectNoLeaks(t));
 * ```
 * @packageDocumentation
 */

export { expectClose, maxAbsDiff } from './assert.js';
export type { ClipShape, TestVideo } from './fixtures.js';
export { gradientVideo } from './fixtures.js';
export { expectNoLeaks } from './leaks.js';
export type { CaptureMarker, SourceMarker } from './nodes.js';
export { capture, source } from './nodes.js';
export type { FloatTensor, RunEnd, TestRun } from './run.js';
export type { TestNodes, TestRunOptions, TestRuntime, TestRuntimeOptions } from './runtime.js';
export { createTestRuntime, runNodes } from './runtime.js';
export { createTestStore } from './store.js';
export type { CapturedTensor, CapturedValue, TestTensor, TestValue } from './values.js';
