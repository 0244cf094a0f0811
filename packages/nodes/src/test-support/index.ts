/** Test helpers for node tests (not part of the published package). */

export { writeSquareGif, writeSquareMp4, writeSquarePng } from './fixtures.js';
export type { Captured } from './probe-nodes.js';
export { captured, probeNodes } from './probe-nodes.js';
export type { AnyEvent, NodeHarness, RunResult } from './run-nodes.js';
export { createHarness, workflow } from './run-nodes.js';
export { BACKGROUND, meanAbsDiff, SQUARE, squareFrame, squareFrames, squareOrigin } from './synthetic.js';
