/**
 * The only places tensor data crosses between the device and JS. By design, only I/O nodes (and
 * previews) call these: everything else stays on the device.
 */
import { releaseMemory, type TensorHandle, type TensorStore } from '@kinegraph/core/sdk';
import { checkpoint } from './budget.js';
import type { RgbaClip } from './frames.js';
import { clipDims, packFrame } from './frames.js';

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

/** How {@link uploadClip} converts: what stops it, and whom it tells how far it got. */
export interface UploadClipOptions {
  /** Upload the first frame only, as an image [1, 3, H, W]. */
  readonly asImage?: boolean;
  /** Stops the conversion between slices (throwing the abort reason); what was made is freed. */
  readonly signal?: AbortSignal;
  /** Called as the conversion goes, with the share of pixels converted, up to 1. */
  readonly progress?: (fraction: number) => void;
}

/**
 * Pixels converted between two turns of the event loop: about 20 ms of work on this kind of machine, where
 * converting a 1024²×100 clip in one go held a server's event loop for 2 s (no request answered, no cancel
 * heard, while its 1.2 GB of float data was made).
 */
const PIXELS_PER_SLICE = 1 << 20;

/**
 * Uploads RGBA frames the caller gives up as a video tensor [1, 3, F, H, W] (`asImage`: [1, 3, H, W] from
 * the first frame). Converts a slice at a time, letting the event loop run between slices and stopping
 * when `options.signal` is aborted, and frees each frame's memory as soon as it is converted (so the
 * frames read as empty afterwards). A cancel or failure frees the float data and the remaining frames at once.
 */
export async function uploadClip(
  tensors: TensorStore,
  clip: Pick<RgbaClip, 'frames' | 'width' | 'height'>,
  options: UploadClipOptions = {},
): Promise<TensorHandle> {
  const used = options.asImage ? clip.frames.slice(0, 1) : clip.frames;
  const plane = clip.width * clip.height;
  const total = used.length * plane;
  const data = new Float32Array(3 * total);
  // A frame is freed after its last use (a decoder may hand the same still frame more than once).
  const lastUse = new Map(used.map((rgba, f) => [rgba, f]));
  try {
    let done = 0;
    for (const [f, rgba] of used.entries()) {
      for (let from = 0; from < plane; from += PIXELS_PER_SLICE) {
        await checkpoint(options.signal);
        const to = Math.min(plane, from + PIXELS_PER_SLICE);
        packFrame(data, rgba, f, used.length, plane, from, to);
        done += to - from;
        options.progress?.(done / total);
      }
      if (lastUse.get(rgba) === f) releaseMemory(rgba);
    }
    await checkpoint(options.signal);
  } catch (error) {
    // Given up and not uploaded: the float data and the frames not converted yet go back now.
    releaseMemory(data, ...used);
    throw error;
  }
  return uploadOwned(tensors, data, clipDims(used.length, clip.width, clip.height, options.asImage));
}
