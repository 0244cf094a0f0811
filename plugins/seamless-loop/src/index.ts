/**
 * @kinegraph/plugin-seamless-loop: makes clips loop without a visible jump, on the run's device.
 *
 * - `seamless-loop/crossfade`: dissolves the last K frames into the first K; the result is K frames shorter.
 * - `seamless-loop/seam-condition`: rolls the seam into the middle and marks the frames around it for a
 *   STUNet sampler to regenerate; every frame is kept.
 *
 * Core finds this package by the `kinegraph` key of its package.json and loads `dist/index.js`.
 * @packageDocumentation
 */
import { definePlugin } from '@kinegraph/core/sdk';
import { crossfadeNode } from './crossfade.node.js';
import { seamConditionNode } from './seam-condition.node.js';

export type { FadeCurve } from './crossfade.node.js';
export { crossfadeGraph, crossfadeNode, fadeWeights } from './crossfade.node.js';
export type { SeamPlan } from './seam-condition.node.js';
export { planSeam, seamConditionGraph, seamConditionNode } from './seam-condition.node.js';

/** The plugin: a factory, so a host could pass options one day without breaking this signature. */
export default definePlugin(() => ({
  name: '@kinegraph/plugin-seamless-loop',
  version: '0.1.0',
  nodes: [crossfadeNode, seamConditionNode],
}));
