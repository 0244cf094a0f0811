/**
 * The only places tensor data crosses between the device and JS. By design, only I/O nodes (and
 * previews) call these: everything else stays on the device.
 */
import type { TensorHandle, TensorStore } from '@kinegraph/core/sdk';
import type { RgbaClip } from './frames.js';
import { framesToTensor } from './frames.js';

/** Reads a float32 tensor into JS. */
export async function readFloat32(tensors: TensorStore, handle: TensorHandle): Promise<Float32Array> {
  if (handle.dtype !== 'float32') throw new RangeError(`expected a float32 tensor, got ${handle.dtype}`);
  return (await tensors.read(handle)) as Float32Array;
}

/** Uploads data the caller gives up, without a copy when the store supports it (`uploadOwned`). */
export function uploadOwned(tensors: TensorStore, data: Float32Array, dims: readonly number[]): Promise<TensorHandle> {
  const store = tensors as TensorStore & { uploadOwned?: TensorStore['upload'] };
  return store.uploadOwned ? store.uploadOwned(data, dims, 'float32') : store.upload(data, dims, 'float32');
}

/** Uploads RGBA frames as a video tensor [1, 3, F, H, W] (`asImage`: [1, 3, H, W] from the first frame). */
export function uploadClip(
  tensors: TensorStore,
  clip: Pick<RgbaClip, 'frames' | 'width' | 'height'>,
  asImage = false,
): Promise<TensorHandle> {
  const { data, dims } = framesToTensor(clip.frames, clip.width, clip.height, asImage);
  return uploadOwned(tensors, data, dims);
}
