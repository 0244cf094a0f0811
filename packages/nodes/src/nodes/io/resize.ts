import { type NodeContext, type TensorHandle, Type } from '@kinegraph/core/sdk';

/**
 * The `width` and `height` params of a loader that resizes what it read (Load Image, Load Video): 0 keeps
 * a dimension, one of them 0 follows the aspect ratio (`requestedSize` in media/sizes.ts). Fresh schemas per call, so
 * no two nodes share a schema object.
 */
export function loaderSizeParams() {
  return {
    width: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 8192,
      description: 'Resize to this width; 0 keeps it (or follows the aspect ratio when height is set).',
    }),
    height: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 8192,
      description: 'Resize to this height; 0 keeps it (or follows the aspect ratio when width is set).',
    }),
  };
}

/**
 * Resizes the trailing axes of a tensor the node owns to `size` on the device, releasing the original:
 * loaders upload at the file's size and shrink or grow afterwards. Returns the input when nothing changes.
 */
export async function resizeOwned(
  context: Pick<NodeContext, 'ops' | 'tensors'>,
  handle: TensorHandle,
  size: readonly number[],
  mode: 'nearest' | 'linear',
): Promise<TensorHandle> {
  const current = handle.dims.slice(handle.dims.length - size.length);
  if (current.every((d, i) => d === size[i])) return handle;
  try {
    return await context.ops.resize(handle, size, mode);
  } finally {
    context.tensors.release(handle);
  }
}
