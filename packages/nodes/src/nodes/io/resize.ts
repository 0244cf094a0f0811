import type { NodeContext, TensorHandle } from '@kinegraph/core/sdk';

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
