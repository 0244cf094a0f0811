/**
 * Media helpers shared by Kinegraph's nodes: tensor ↔ RGBA frames, PNG/GIF codecs, ffmpeg encode/decode,
 * previews, and reading back embedded workflows.
 * @packageDocumentation
 */

export { readEmbeddedWorkflow } from './embedded-workflow.js';
export type { MediaErrorCode } from './errors.js';
export { mediaError, withNodeId } from './errors.js';
export { FFMPEG_ENV, FFPROBE_ENV, ffmpegPath, ffprobePath, INSTALL_FFMPEG_HINT } from './ffmpeg-tool.js';
export type { FfmpegFormat, ProbeResult } from './ffmpeg-video.js';
export { DEFAULT_CRF, decodeImageFile, decodeVideoFile, encodeVideoFile, MAX_CRF, probeMedia } from './ffmpeg-video.js';
export type { RgbaClip, RgbaFrame } from './frames.js';
export { framesToTensor, fromByte, tensorToFrames, toByte, videoDims } from './frames.js';
export type { FrameSelection } from './gif.js';
export { decodeGif, encodeGif, isGif, readGifComments } from './gif.js';
export { nextOutputStem, SAFE_PREFIX_PATTERN, safePrefix } from './output-names.js';
export type { DecodedRgbaPng } from './png.js';
export { decodePng, encodePng, isPng } from './png.js';
export type { PreviewOptions } from './preview.js';
export { fitWithin, makePreview } from './preview.js';
export { requestedSize } from './sizes.js';
export { fileFingerprint, loadImageFile, loadVideoFile, PNG_FPS_KEY } from './sources.js';
export { readFloat32, uploadClip, uploadOwned } from './tensor-io.js';
export { WORKFLOW_KEY, workflowToAscii } from './workflow-text.js';
