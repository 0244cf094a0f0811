/**
 * kinegraph-plugin-template: a Kinegraph plugin. Kinegraph finds it by the `kinegraph` key of package.json
 * and loads dist/index.js.
 * @packageDocumentation
 */
import { definePlugin } from '@kinegraph/core/sdk';
import { brightnessNode } from './brightness.node.js';

export { brightnessGraph, brightnessNode } from './brightness.node.js';

/** The plugin: every node type it adds. A factory, so options can be added later without a break. */
export default definePlugin(() => ({
  name: 'kinegraph-plugin-template',
  version: '0.1.0',
  nodes: [brightnessNode],
}));
