/**
 * Media helpers shared by Kinegraph's nodes: tensor ↔ RGBA frames, PNG/GIF codecs, ffmpeg encode/decode,
 * previews, and reading back embedded workflows.
 * @packageDocumentation
 */
export { framesToTensor, fromByte, tensorToFrames, toByte, videoDims } from './frames.js';
export type { RgbaClip, RgbaFrame } from './frames.js';
export { readFloat32, uploadClip, uploadOwned } from './tensor-io.js';
export { fitWithin, makePreview } from './preview.js';
export type { PreviewOptions } from './preview.js';
export { decodePng, encodePng, isPng } from './png.js';
export type { DecodedRgbaPng } from './png.js';
export { decodeGif, encodeGif, isGif, readGifComments } from './gif.js';
export type { FrameSelection } from './gif.js';
export { FFMPEG_ENV, FFPROBE_ENV, INSTALL_FFMPEG_HINT, ffmpegPath, ffprobePath } from './ffmpeg-tool.js';
export { DEFAULT_CRF, MAX_CRF, decodeImageFile, decodeVideoFile, encodeVideoFile, probeMedia } from './ffmpeg-video.js';
export type { FfmpegFormat, ProbeResult } from './ffmpeg-video.js';
export { readEmbeddedWorkflow } from './embedded-workflow.js';
export { WORKFLOW_KEY, workflowToAscii } from './workflow-text.js';
export { PNG_FPS_KEY, fileFingerprint, loadImageFile, loadVideoFile } from './sources.js';
export { mediaError, withNodeId } from './errors.js';
export type { MediaErrorCode } from './errors.js';
export { SAFE_PREFIX_PATTERN, nextOutputStem, safePrefix } from './output-names.js';
export { requestedSize } from './sizes.js';
