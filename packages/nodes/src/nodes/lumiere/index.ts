import type { AnyNodeDefinition } from '@kinegraph/core/sdk';
import { imageConditionNode } from './image-condition.node.js';
import { loadModelPackNode } from './load-model-pack.node.js';
import { maskInpaintNode } from './mask-inpaint.node.js';
import { spatialSuperResNode } from './spatial-super-res.node.js';
import { stunetSampleNode } from './stunet-sample.node.js';
import { styleAdapterNode } from './style-adapter.node.js';
import { textEncodeNode } from './text-encode.node.js';
import { textToImageNode } from './text-to-image.node.js';

/** The model nodes: everything that runs the pack's networks. */
export const lumiereNodes: AnyNodeDefinition[] = [
  loadModelPackNode,
  textEncodeNode,
  stunetSampleNode,
  textToImageNode,
  imageConditionNode,
  maskInpaintNode,
  styleAdapterNode,
  spatialSuperResNode,
] as AnyNodeDefinition[];
