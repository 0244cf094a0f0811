import { KinegraphError, type NodeContext, type TensorHandle } from '@kinegraph/core/sdk';

/**
 * Resizes a tensor's trailing axes to a target size on the device when they differ (linear for pixels,
 * nearest for masks), so conditioning inputs of any size fit the pack. Returns the input itself when it
 * already fits (the caller must then not release it).
 */
export async function fitTrailing(
  context: NodeContext,
  tensor: TensorHandle,
  size: readonly number[],
  mode: 'linear' | 'nearest',
): Promise<{ tensor: TensorHandle; made: boolean }> {
  const trailing = tensor.dims.slice(tensor.dims.length - size.length);
  if (trailing.every((d, i) => d === size[i])) return { tensor, made: false };
  return { tensor: await context.ops.resize(tensor, size, mode), made: true };
}

/** Rejects tensors of the wrong rank with a coded error naming the input. */
export function expectRank(
  context: NodeContext,
  what: string,
  tensor: TensorHandle,
  ranks: readonly number[],
  hint: string,
): void {
  if (!ranks.includes(tensor.dims.length)) {
    throw new KinegraphError(
      'SHAPE_MISMATCH',
      `${what} has ${tensor.dims.length} dimensions [${tensor.dims.join(', ')}]; expected ${ranks.join(' or ')}.`,
      { nodeId: context.nodeId, hint },
    );
  }
}
