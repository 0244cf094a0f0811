/**
 * @kinegraph/nodes: the built-in node library, loaded through the plugin SDK exactly like a third-party
 * plugin (core finds it by the `kinegraph` key of this package's package.json and never imports it).
 * @packageDocumentation
 */
import { type AnyNodeDefinition, definePlugin } from '@kinegraph/core/sdk';
import { workflowTextReader } from './media/embedded-workflow.js';
import { ioNodes } from './nodes/io/index.js';
import { lumiereNodes } from './nodes/lumiere/index.js';

/** Every built-in node type. */
export const nodes: AnyNodeDefinition[] = [...lumiereNodes, ...ioNodes];

export { readEmbeddedWorkflow } from './media/index.js';
export { ioNodes, lumiereNodes, workflowTextReader };

export default definePlugin(() => ({
  name: '@kinegraph/nodes',
  version: '0.1.0',
  nodes,
  // Hosts (the editor's server) read the workflow embedded in this library's files through the runtime.
  workflowReaders: [workflowTextReader],
}));
