/**
 * Decoding against the run's memory budget. A picture file is small and its decoded frames are not: a
 * 1,400-byte GIF declaring a 2048² canvas and 60 frames decodes to 3.9 GB, a 32 KB PNG of 16384² to 5 GB.
 * Every decoder reads the header first (width × height × frames kept) and refuses, with
 * `MEMORY_BUDGET_EXCEEDED`, before it allocates a frame.
 */
import { KinegraphError } from '@kinegraph/core/sdk';

/**
 * Bytes one decoded pixel costs until its frame is a tensor: the RGBA frame (4) and the float32 RGB tensor
 * data made from it (12) are held at once.
 */
export const BYTES_PER_DECODED_PIXEL = 16;

/** What a decoder may spend, and when it must stop. */
export interface DecodeLimits {
  /** Bytes the decoded frames (and their tensor data) may take; undefined: no limit. */
  readonly budgetBytes?: number;
  /** Aborted when the run is cancelled: decoders stop between frames and let go of what they made. */
  readonly signal?: AbortSignal;
  /** Called as frames are decoded, with the share of the frames to keep decoded so far, up to 1. */
  readonly progress?: (fraction: number) => void;
}

/** Bytes decoding `frames` frames of `width`×`height` costs, with `extra` bytes of decoder scratch. */
export function decodeCost(width: number, height: number, frames: number, extra = 0): number {
  return width * height * frames * BYTES_PER_DECODED_PIXEL + extra;
}

/**
 * Throws `MEMORY_BUDGET_EXCEEDED` when `need` bytes do not fit `budget`; `what` describes the file as its
 * header does (`"clip.gif" (2048×2048, 60 frames)`).
 */
export function requireBudget(need: number, budget: number | undefined, what: string): void {
  if (budget === undefined || need <= budget) return;
  throw new KinegraphError(
    'MEMORY_BUDGET_EXCEEDED',
    `Decoding ${what} needs about ${formatBytes(need)}, more than this run's memory budget of ${formatBytes(budget)}.`,
    {
      hint: 'Keep fewer frames (maxFrames, frameStep), use a smaller file, or give the run a larger memory budget.',
    },
  );
}

/** Yields to the event loop (so a cancel can arrive), then throws if the run was cancelled. */
export async function checkpoint(signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  signal?.throwIfAborted();
}

/** 1.5 GB style sizes for messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.ceil(n / 1024)} KB`;
}

/** The decode limits a node's context gives: its cancel signal, and what is left of the run's budget. */
export function limitsOf(context: { signal: AbortSignal; budget?: { available(): number } }): DecodeLimits {
  return { signal: context.signal, ...(context.budget ? { budgetBytes: context.budget.available() } : {}) };
}

/**
 * Checks that uploading `frames` decoded frames of `height`×`width` and resizing them on the device to
 * `size` ([height, width]) fits the budget: the float tensor, the resized one and its copy out of the
 * session. A tiny file asked to come out at 8192² is as much a bomb as a large one.
 */
export function requireUploadBudget(
  limits: DecodeLimits,
  what: string,
  clip: { frames: number; width: number; height: number; channels?: number },
  size: readonly [number, number],
): void {
  const channels = clip.channels ?? 3;
  const upload = clip.frames * channels * clip.width * clip.height * 4;
  const resized =
    size[0] === clip.height && size[1] === clip.width ? 0 : 2 * clip.frames * channels * size[0] * size[1] * 4;
  requireBudget(upload + resized, limits.budgetBytes, `${what} at ${size[1]}\u00d7${size[0]}`);
}
