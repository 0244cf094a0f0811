/**
 * @kinegraph/plugin-color-grade: colour grading for Kinegraph videos, on the run's device.
 *
 * - `color-grade/lift-gamma-gain`: lift/gamma/gain per channel, saturation, mix.
 * - `color-grade/lut3d`: a 3D LUT from a `.cube` file, trilinearly interpolated.
 *
 * Core finds this package by the `kinegraph` key of its package.json and loads `dist/index.js`.
 * @packageDocumentation
 */
import { definePlugin } from '@kinegraph/core/sdk';
import { liftGammaGainNode } from './lift-gamma-gain.node.js';
import { lut3dNode } from './lut3d.node.js';

export type { Lut3d } from './cube.js';
export { MAX_LUT_SIZE, parseCube } from './cube.js';
export { LUMA, liftGammaGainGraph, liftGammaGainNode } from './lift-gamma-gain.node.js';
export { lut3dGraph, lut3dNode } from './lut3d.node.js';

/** The plugin: a factory, so a host could pass options one day without breaking this signature. */
export default definePlugin(() => ({
  name: '@kinegraph/plugin-color-grade',
  version: '0.1.0',
  nodes: [liftGammaGainNode, lut3dNode],
}));
