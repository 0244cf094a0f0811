/** Kinegraph's media I/O nodes: loading and saving images, videos and masks, resizing, previews. */
import type { AnyNodeDefinition } from '@kinegraph/core/sdk';
import { loadImageNode } from './load-image.node.js';
import { loadMaskNode } from './load-mask.node.js';
import { loadVideoNode } from './load-video.node.js';
import { maskFromColorNode } from './mask-from-color.node.js';
import { maskRectNode } from './mask-rect.node.js';
import { previewVideoNode } from './preview-video.node.js';
import { resizeVideoNode } from './resize-video.node.js';
import { saveImageNode } from './save-image.node.js';
import { videoEncodeNode } from './video-encode.node.js';

export type { VideoFormat } from './video-encode.node.js';
export { VIDEO_FORMATS } from './video-encode.node.js';
export {
  loadImageNode,
  loadMaskNode,
  loadVideoNode,
  maskFromColorNode,
  maskRectNode,
  previewVideoNode,
  resizeVideoNode,
  saveImageNode,
  videoEncodeNode,
};

/** Every I/O node definition, for the plugin's `nodes` list. */
export const ioNodes: readonly AnyNodeDefinition[] = [
  loadImageNode,
  loadVideoNode,
  loadMaskNode,
  maskRectNode,
  maskFromColorNode,
  resizeVideoNode,
  videoEncodeNode,
  saveImageNode,
  previewVideoNode,
];
