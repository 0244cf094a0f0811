/**
 * Fixtures for the node library's tests (not part of the published package): the moving square as RGBA
 * frames, as files, and as values for `source(...)`. Running nodes is `@kinegraph/core/testing`'s job.
 */

export type { SquareClip } from './clips.js';
export { squareImage, squareVideo } from './clips.js';
export { writeSquareGif, writeSquareMp4, writeSquarePng } from './fixtures.js';
export { BACKGROUND, meanAbsDiff, SQUARE, squareFrame, squareFrames, squareOrigin } from './synthetic.js';
