import { KinegraphError } from '@kinegraph/core/sdk';

/** The codes media helpers and I/O nodes raise; stable, never reworded. */
export type MediaErrorCode =
  | 'FFMPEG_MISSING'
  | 'FFMPEG_FAILED'
  | 'IMAGE_DECODE_FAILED'
  | 'VIDEO_DECODE_FAILED'
  | 'FORMAT_UNSUPPORTED'
  | 'INVALID_INPUT'
  | 'PARAM_INVALID';

/**
 * A coded, user-facing media error. Media helpers do not know which node called them, so `nodeId` is
 * optional here; nodes pass `context.nodeId` (see {@link withNodeId} for errors raised deeper down).
 */
export function mediaError(
  code: MediaErrorCode,
  message: string,
  hint: string,
  nodeId?: string,
  cause?: unknown,
): KinegraphError {
  return new KinegraphError(code, message, {
    hint,
    ...(nodeId !== undefined ? { nodeId } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * Runs `work` and stamps `nodeId` on a KinegraphError that lacks one, so errors from shared helpers still
 * name the node the user has to look at.
 */
export async function withNodeId<T>(nodeId: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof KinegraphError && error.nodeId === undefined) {
      throw new KinegraphError(error.code, error.message, {
        nodeId,
        ...(error.hint !== undefined ? { hint: error.hint } : {}),
        cause: error.cause ?? error,
      });
    }
    throw error;
  }
}
